package host

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/partnerhub/partnerhub/internal/telemetry"
)

// hostMetrics are the plugin host's instruments. Labels name the tenant
// (partnerCode) and environment, never a plugin's settings or its answers.
type hostMetrics struct {
	starts   metric.Int64Counter
	crashes  metric.Int64Counter
	calls    metric.Int64Counter
	duration metric.Float64Histogram
}

// newHostMetrics makes the instruments and reports h's live processes.
func newHostMetrics(mp metric.MeterProvider, h *Host) (hostMetrics, error) {
	m := telemetry.MeterProvider(mp).Meter("github.com/partnerhub/partnerhub/plugins/host")
	// Errors only come from invalid names, fixed here; the instruments are
	// usable regardless.
	starts, _ := m.Int64Counter("partnerhub.plugin.starts", metric.WithUnit("{start}"),
		metric.WithDescription("Plugin process starts, by tenant, environment and result (ok, failed)."))
	crashes, _ := m.Int64Counter("partnerhub.plugin.crashes", metric.WithUnit("{crash}"),
		metric.WithDescription("Plugin processes that exited without being asked to, by tenant and environment."))
	calls, _ := m.Int64Counter("partnerhub.plugin.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Calls to plugins, by tenant, method and outcome (ok, error, timeout, crashed, closed)."))
	duration, _ := m.Float64Histogram("partnerhub.plugin.call.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(telemetry.BucketsFast...),
		metric.WithDescription("Time a plugin call took, from the process taking it to its answer, by tenant and method."))
	live, err := m.Int64ObservableGauge("partnerhub.plugin.processes", metric.WithUnit("{process}"),
		metric.WithDescription("Plugin processes on this node (starting, running or stopping)."))
	if err != nil {
		return hostMetrics{}, err
	}
	if _, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		h.mu.Lock()
		n := h.live
		h.mu.Unlock()
		o.ObserveInt64(live, int64(n))
		return nil
	}, live); err != nil {
		return hostMetrics{}, err
	}
	return hostMetrics{starts: starts, crashes: crashes, calls: calls, duration: duration}, nil
}

func keyAttrs(k Key) (attribute.KeyValue, attribute.KeyValue) {
	return attribute.String("tenant", k.PartnerCode), attribute.String("env", k.Env)
}

// started counts a start of k's plugin; err is why it failed. A start
// abandoned because its caller gave up (ctx ended) or the host is closing
// is not the plugin's failure, and is not counted at all.
func (m hostMetrics) started(ctx context.Context, k Key, err error, closing bool) {
	result := "ok"
	if err != nil {
		if ctx.Err() != nil || closing || !errors.Is(err, ErrStart) && !errors.Is(err, ErrChecksum) {
			return
		}
		result = "failed"
	}
	tenant, env := keyAttrs(k)
	m.starts.Add(ctx, 1, metric.WithAttributes(tenant, env, attribute.String("result", result)))
	// Failed starts and crashes (which only a started process has) exist
	// at 0 from the first start on, so that their first increase shows in
	// increase() (a series born at 1 does not).
	m.starts.Add(ctx, 0, metric.WithAttributes(tenant, env, attribute.String("result", "failed")))
	if err == nil {
		m.crashes.Add(ctx, 0, metric.WithAttributes(tenant, env))
	}
}

// crashed counts a process of k's plugin that exited by itself.
func (m hostMetrics) crashed(k Key) {
	tenant, env := keyAttrs(k)
	m.crashes.Add(context.Background(), 1, metric.WithAttributes(tenant, env))
}

// called records a call of method on k's plugin; err is end's.
func (m hostMetrics) called(ctx context.Context, k Key, method string, took time.Duration, err error) {
	outcome := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrCrashed):
		outcome = "crashed"
	case errors.Is(err, ErrTimeout):
		outcome = "timeout"
	case errors.Is(err, ErrClosed):
		outcome = "closed"
	default:
		outcome = "error"
	}
	tenant := attribute.String("tenant", k.PartnerCode)
	methodAttr := attribute.String("method", strings.ReplaceAll(method, " ", "_"))
	m.calls.Add(ctx, 1, metric.WithAttributes(tenant, methodAttr, attribute.String("outcome", outcome)))
	m.duration.Record(ctx, took.Seconds(), metric.WithAttributes(tenant, methodAttr))
}
