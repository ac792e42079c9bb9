package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Histogram bucket boundaries, in seconds, shared by the instruments of
// every package so that dashboards line up. OpenTelemetry's defaults are
// sized for milliseconds.
var (
	// BucketsFast: a request answered while the caller waits (webhook
	// acknowledgements, Pay1st calls, plugin calls).
	BucketsFast = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	// BucketsSlow: work that may wait for retries (a fulfilment from its
	// payment's arrival until it is done: minutes to hours).
	BucketsSlow = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}
)

// MetricsConfig says where metrics go.
type MetricsConfig struct {
	// Version is the service.version resource attribute.
	Version string
	// Prometheus keeps a registry for Handler (PARTNERHUB_METRICS_LISTEN).
	Prometheus bool
	// Getenv reads the OTEL_* variables: an OTLP (or other) exporter when
	// they enable metrics (Enabled).
	Getenv func(string) string
	Logger *slog.Logger
}

// Metrics is the process's meter provider and its exporters. Packages take
// Provider through their constructors (never the global provider): tests
// give each component a provider of its own, and third-party
// instrumentation (otelhttp, otelgrpc), whose attributes partly come from
// callers (the Host header), stays unmetered.
type Metrics struct {
	// Provider is a no-op when no exporter is configured, so that
	// instruments cost next to nothing then.
	Provider metric.MeterProvider
	handler  http.Handler
	shutdown func(context.Context) error
}

// NewMetrics builds the meter provider: a Prometheus reader when
// cfg.Prometheus, plus the exporter the OTEL_* variables name (OTLP
// usually; autoexport). With neither, Provider is a no-op.
func NewMetrics(ctx context.Context, cfg MetricsConfig) (*Metrics, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = func(string) string { return "" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	_, otlp := Enabled(cfg.Getenv)
	if !cfg.Prometheus && !otlp {
		return &Metrics{Provider: noop.NewMeterProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("partnerhub"), semconv.ServiceVersion(cfg.Version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithCardinalityLimit(MaxSeriesPerMetric)}
	m := &Metrics{}
	if cfg.Prometheus {
		// A registry of our own: nothing registered on the global default
		// registry by a library shows up unasked.
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutScopeInfo())
		if err != nil {
			return nil, fmt.Errorf("telemetry prometheus exporter: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(exp))
		m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog:            slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
			MaxRequestsInFlight: maxScrapesInFlight,
		})
	}
	if otlp {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry metric reader: %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	m.Provider, m.shutdown = mp, mp.Shutdown
	cfg.Logger.InfoContext(ctx, "metrics enabled", "prometheus", cfg.Prometheus, "otel_exporter", otlp)
	return m, nil
}

// maxScrapesInFlight bounds concurrent scrapes; more are answered 503.
const maxScrapesInFlight = 4

// MaxSeriesPerMetric bounds each instrument's label combinations (the
// SDK's default is 2,000: some 300 tenants). Past it, measurements are
// folded into one series labelled otel_metric_overflow="true".
const MaxSeriesPerMetric = 20_000

// Handler serves the Prometheus text format; nil unless
// MetricsConfig.Prometheus.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Shutdown flushes the exporters (the OTLP one pushes a last time).
func (m *Metrics) Shutdown(ctx context.Context) error {
	if err := m.shutdown(ctx); err != nil && !errors.Is(err, sdkmetric.ErrReaderShutdown) {
		return fmt.Errorf("telemetry metrics shutdown: %w", err)
	}
	return nil
}

// MeterProvider returns mp, or a no-op provider when mp is nil: the
// packages' constructors take an optional provider.
func MeterProvider(mp metric.MeterProvider) metric.MeterProvider {
	if mp == nil {
		return noop.NewMeterProvider()
	}
	return mp
}
