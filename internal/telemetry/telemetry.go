// Package telemetry wires OpenTelemetry tracing and metrics, and the trace
// IDs on log lines. Export is off by default and switched on by the standard
// OTEL_* environment variables, so an operator configures exporters the same
// way as for any other service; IDs are generated (and logged) either way.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
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

// Setup installs a tracer provider as the process's OpenTelemetry provider
// when the environment (getenv) enables traces, and always the W3C trace
// context propagator. Metrics are NewMetrics's: a provider that is injected,
// not installed. With traces off, spans still get IDs for the
// logs (installIDsOnly). The returned function flushes and stops them.
// The exporters themselves read the OTEL_* variables from the process.
func Setup(ctx context.Context, version string, getenv func(string) string, logger *slog.Logger) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	traces, _ := Enabled(getenv)
	var idsOnly func(context.Context) error
	if !traces && getenv("OTEL_SDK_DISABLED") != "true" {
		idsOnly = installIDsOnly()
	}
	if !traces {
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
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry span exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	logger.InfoContext(ctx, "tracing enabled")
	return tp.Shutdown, nil
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
