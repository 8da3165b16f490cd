package coordinator

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the coordinator's Prometheus metrics. They are registered on
// the Registerer from Config, never on a global registry.
type metrics struct {
	requests    *prometheus.CounterVec   // by command
	errors      *prometheus.CounterVec   // by command
	latency     *prometheus.HistogramVec // by command
	shardErrors *prometheus.CounterVec   // by shard
	shardRounds *prometheus.HistogramVec // by shard
	roundSize   prometheus.Histogram
	failovers   *prometheus.CounterVec // by owner, target
	retries     prometheus.Counter
	shardUp     *prometheus.GaugeVec // by shard
	clients     prometheus.Gauge
	hotCounters prometheus.Gauge
	folds       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shardcounter_requests_total", Help: "Client commands handled, by command.",
		}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shardcounter_request_errors_total", Help: "Client commands answered with an error, by command.",
		}, []string{"command"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shardcounter_request_duration_seconds", Help: "Time from dispatch to reply, by command; one request in 16 is timed.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
		}, []string{"command"}),
		shardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shardcounter_shard_errors_total", Help: "Failed round trips to a shard (timeouts, connection errors, error replies), by shard.",
		}, []string{"shard"}),
		shardRounds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shardcounter_shard_round_seconds", Help: "Duration of one pipelined write round to a shard, by shard.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
		}, []string{"shard"}),
		roundSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "shardcounter_shard_round_commands", Help: "Keys per write round to a shard (SC.MINCR items, after coalescing).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13),
		}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shardcounter_failover_writes_total", Help: "Writes sent to another shard than the key's first choice because it was down, by owner and target.",
		}, []string{"owner", "target"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shardcounter_write_retries_total", Help: "Writes with an unknown outcome retried on the same shard with the same request id.",
		}),
		shardUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shardcounter_shard_up", Help: "1 while the shard answers, 0 while its circuit breaker is open.",
		}, []string{"shard"}),
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shardcounter_connected_clients", Help: "Open RESP client connections.",
		}),
		folds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shardcounter_folds_total", Help: "Counters whose partials on other shards were folded into their owner's INCRBY replies (SC.COVER).",
		}),
		hotCounters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shardcounter_hot_counters", Help: "Counters currently split across shards because they are written faster than --hot-threshold.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.errors, m.latency, m.shardErrors, m.shardRounds,
		m.roundSize, m.failovers, m.retries, m.shardUp, m.clients, m.hotCounters, m.folds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) shardRound(shard string, d time.Duration, cmds int) {
	m.shardRounds.WithLabelValues(shard).Observe(d.Seconds())
	m.roundSize.Observe(float64(cmds))
}
