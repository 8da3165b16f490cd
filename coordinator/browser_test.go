package coordinator

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (scripts/setup.sh installs it), or
// "" when it is not installed.
func chromiumPath() string {
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and no network
// features, and returns a tab's context. Everything is stopped at cleanup,
// before the profile directory is removed.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		t.Skip("chromium not installed: browser test skipped")
	}
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1360, 960),
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		cancelTimeout()
	})
	return tabCtx
}

// waitJS waits until the JavaScript expression is truthy, failing the test
// with what after timeout.
func waitJS(t *testing.T, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, text)
	}
}

// textOf is a JavaScript expression: the trimmed text of the first element
// matching selector, or null.
func textOf(selector string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent ?? '').trim()`, selector)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dirs := []string{t.TempDir()}
	// Set SHARDCOUNTER_SCREENSHOTS to a directory to keep them.
	if d := os.Getenv("SHARDCOUNTER_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}
}

// TestDashboardInBrowser loads the dashboard in headless Chromium, writes
// through RESP, and checks what the page shows: the new totals, the
// per-shard split, and a stopped shard marked down.
func TestDashboardInBrowser(t *testing.T) {
	ctx := newBrowser(t, 30*time.Second)
	tc := newTestCluster(t, 3, func(c *Config) { c.Spread = 3 })
	rctx := context.Background()
	page := "http://" + tc.coord.HTTPAddr().String() + "/"

	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("load %s: %v", page, err)
	}
	waitJS(t, ctx, "three shards shown up",
		`document.querySelectorAll('#shards tbody tr.up').length === 3`, 5*time.Second)

	// Writes through RESP: a spread-3 counter lands on every shard.
	for i := 0; i < 60; i++ {
		if err := tc.client.IncrBy(rctx, "global_likes", 5).Err(); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := tc.client.Incr(rctx, "page:views").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	total, err := tc.client.Get(rctx, "global_likes").Int64()
	if err != nil || total != 300 {
		t.Fatalf("GET global_likes = %d, %v", total, err)
	}
	res, err := tc.client.Do(rctx, "SHARDVALUES", "global_likes").Result()
	split, ok := res.(map[any]any) // RESP3: a map of shard id -> partial
	if err != nil || !ok || len(split) != 3 {
		t.Fatalf("SHARDVALUES global_likes = %#v, %v", res, err)
	}

	// The lookup box shows the total and each shard's partial.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#lookup-key`, "global_likes"),
		chromedp.Click(`#lookup-form button`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "lookup shows the total 300", textOf(`#lookup-total`)+` === '300'`, 5*time.Second)
	for k, pv := range split {
		id, v := fmt.Sprint(k), pv.(int64)
		if v == 0 {
			t.Errorf("SHARDVALUES %v: shard %s has nothing, want a split over all three", split, id)
		}
		want := strconv.FormatInt(v, 10)
		waitJS(t, ctx, "lookup shows "+id+" = "+want,
			textOf(`#lookup-parts tr[data-shard="`+id+`"] .value`)+` === '`+want+`'`, 2*time.Second)
		waitJS(t, ctx, "lookup bar has a segment for "+id,
			`!!document.querySelector('#lookup-bar .seg[data-shard="`+id+`"]')`, 2*time.Second)
	}
	// The hot list has both counters, the hotter first, with their totals.
	waitJS(t, ctx, "hot counters listed",
		`document.querySelector('#hot tbody tr')?.dataset.key === 'global_likes' && `+
			textOf(`#hot tbody tr[data-key="global_likes"] .total`)+` === '300' && `+
			textOf(`#hot tbody tr[data-key="page:views"] .total`)+` === '20'`, 5*time.Second)
	// The chart has samples with the writes in them, and the shards' counts.
	waitJS(t, ctx, "shards show their counters",
		`[...document.querySelectorAll('#shards tbody .counters')].every(e => e.textContent !== '…' && e.textContent !== '–')`, 5*time.Second)
	screenshot(t, ctx, "dashboard.png")

	// More writes show up in the lookup without reloading the page.
	if err := tc.client.IncrBy(rctx, "global_likes", 700).Err(); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "lookup follows the new total", textOf(`#lookup-total`)+` === '1,000'`, 5*time.Second)

	// A stopped shard is marked down, and the lookup no longer claims a total.
	tc.stopShard(1)
	waitJS(t, ctx, "s2 marked down",
		textOf(`#shards tr[data-shard="s2"] .state .badge`)+` === 'down' && `+textOf(`#health`)+` === '2 of 3 shards up'`, 5*time.Second)
	waitJS(t, ctx, "lookup marks s2 unavailable",
		textOf(`#lookup-parts tr[data-shard="s2"] .value`)+` === 'unavailable' && `+textOf(`#lookup-total`)+` === 'total unknown'`, 5*time.Second)
	screenshot(t, ctx, "dashboard-shard-down.png")

	// A coordinator with a password: the page asks for the token, keeps it
	// in the tab, and then shows the cluster.
	locked := newTestCluster(t, 1, func(c *Config) { c.Password = "sesame" })
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+locked.coord.HTTPAddr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "token form shown", `!document.querySelector('#token-form').hidden`, 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(`#token`, "sesame"), chromedp.Click(`#token-form button[type=submit]`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "cluster shown with the token",
		textOf(`#health`)+` === '1 of 1 shards up' && document.querySelector('#token-form').hidden && `+
			`sessionStorage.getItem('shardcounter.token') === 'sesame'`, 5*time.Second)
}
