// Package telemetry wires OpenTelemetry tracing and metrics, and the trace
// IDs on log lines. Export is off by default and switched on by the standard
// OTEL_* environment variables, so an operator configures exporters the same
// way as for any other service; IDs are generated (and logged) either way.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// Enabled reports whether the environment asks for telemetry: an exporter or
// an OTLP endpoint is named, and the SDK is not disabled.
func Enabled(getenv func(string) string) (traces, metrics bool) {
	if getenv("OTEL_SDK_DISABLED") == "true" {
		return false, false
	}
	endpoint := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	on := func(exporterVar, endpointVar string) bool {
		switch getenv(exporterVar) {
		case "none":
			return false
		case "":
			return endpoint || getenv(endpointVar) != ""
		default:
			return true
		}
	}
	return on("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		on("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
}

// Setup installs tracer and meter providers as the process's OpenTelemetry
// providers when the environment (getenv) enables them, and always the W3C
// trace context propagator. With traces off, spans still get IDs for the
// logs (installIDsOnly). The returned function flushes and stops them.
// The exporters themselves read the OTEL_* variables from the process.
func Setup(ctx context.Context, version string, getenv func(string) string, logger *slog.Logger) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	traces, metrics := Enabled(getenv)
	var idsOnly func(context.Context) error
	if !traces && getenv("OTEL_SDK_DISABLED") != "true" {
		idsOnly = installIDsOnly()
	}
	if !traces && !metrics {
		return func(ctx context.Context) error {
			if idsOnly != nil {
				return idsOnly(ctx)
			}
			return nil
		}, nil
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("partnerhub"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	var shutdowns []func(context.Context) error
	if idsOnly != nil {
		shutdowns = append(shutdowns, idsOnly)
	}
	if traces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry span exporter: %w", err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(tp)
		shutdowns = append(shutdowns, tp.Shutdown)
	}
	if metrics {
		reader, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry metric reader: %w", err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
		otel.SetMeterProvider(mp)
		shutdowns = append(shutdowns, mp.Shutdown)
	}
	logger.InfoContext(ctx, "telemetry enabled", "traces", traces, "metrics", metrics)
	return func(ctx context.Context) error {
		var errs []error
		for _, s := range shutdowns {
			errs = append(errs, s(ctx))
		}
		return errors.Join(errs...)
	}, nil
}

// installIDsOnly installs, unless a program installed an SDK tracer
// provider already (tests do), one that samples nothing and has no
// exporter: requests and jobs still get trace and span IDs, which log lines
// carry (LogHandler) and jobs and plugin calls propagate, at the cost of a
// few random numbers per span. It returns the provider's shutdown.
func installIDsOnly() func(context.Context) error {
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		return nil
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	otel.SetTracerProvider(tp)
	return tp.Shutdown
}
