package pay1st

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// callBuckets are the call duration's histogram boundaries, in seconds.
var callBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// clientMetrics are a Client's instruments: one record per HTTP attempt,
// labelled by operation, status class and outcome, never by partner,
// reference or credentials.
type clientMetrics struct {
	requests metric.Int64Counter
	duration metric.Float64Histogram
}

func newClientMetrics(mp metric.MeterProvider) clientMetrics {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter("github.com/partnerhub/partnerhub/pay1st")
	// Errors only come from invalid names, fixed here; the instruments are
	// usable regardless.
	requests, _ := m.Int64Counter("partnerhub.pay1st.requests", metric.WithUnit("{request}"),
		metric.WithDescription("HTTP requests to the Pay1st Gateway API (each attempt), by operation, status class (2xx, 4xx, 5xx, network) and outcome (ok; retry: another attempt follows; error: the call failed)."))
	duration, _ := m.Float64Histogram("partnerhub.pay1st.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(callBuckets...),
		metric.WithDescription("Time one HTTP request to the Pay1st Gateway API took, by operation and status class."))
	return clientMetrics{requests: requests, duration: duration}
}

// attempted records one attempt of op; retrying says another follows.
func (m clientMetrics) attempted(ctx context.Context, op string, took time.Duration, err error, retrying bool) {
	outcome := "ok"
	switch {
	case err == nil:
	case retrying:
		outcome = "retry"
	default:
		outcome = "error"
	}
	opAttr := attribute.String("operation", strings.ReplaceAll(op, " ", "_"))
	classAttr := attribute.String("status_class", statusClass(err))
	m.requests.Add(ctx, 1, metric.WithAttributes(opAttr, classAttr, attribute.String("outcome", outcome)))
	m.duration.Record(ctx, took.Seconds(), metric.WithAttributes(opAttr, classAttr))
}

// statusClass is the HTTP status class of an attempt's answer: "network"
// when none arrived; an answer whose body was too large by its status.
func statusClass(err error) string {
	var api *APIError
	var large *tooLargeError
	switch {
	case err == nil:
		return "2xx"
	case errors.As(err, &large):
		return classOf(large.status)
	case errors.As(err, &api):
		return classOf(api.Status)
	}
	return "network"
}

func classOf(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	case status >= 200:
		return "2xx"
	}
	return "other"
}
