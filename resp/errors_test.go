package resp

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorsSurviveTheHop(t *testing.T) {
	for _, c := range codes {
		wrapped := fmt.Errorf("%w: detail for %s", c.err, c.prefix)
		msg := ToReply(wrapped)
		back := FromReply(msg)
		if !errors.Is(back, c.err) {
			t.Errorf("%v -> %q -> %v: sentinel lost", wrapped, msg, back)
		}
		if ToReply(back) != msg {
			t.Errorf("ToReply(FromReply(%q)) = %q", msg, ToReply(back))
		}
	}
}

func TestRedisTexts(t *testing.T) {
	if got := ToReply(ErrOverflow); got != "ERR increment or decrement would overflow" {
		t.Errorf("overflow: %q", got)
	}
	if got := ToReply(fmt.Errorf("parse delta: %w", ErrNotInteger)); got != "ERR value is not an integer or out of range" {
		t.Errorf("not integer: %q", got)
	}
	if got := ToReply(errors.New("boom")); got != "ERR boom" {
		t.Errorf("plain: %q", got)
	}
	if errors.Is(FromReply("ERR something else"), ErrOverflow) {
		t.Error("an unrelated ERR matched ErrOverflow")
	}
}
