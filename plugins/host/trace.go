package host

import (
	"context"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// tracerName names the tracer of the plugin spans the host records.
const tracerName = "github.com/partnerhub/partnerhub/plugins/host"

// pluginService is the plugin protocol's gRPC service: only its calls are
// traced, not go-plugin's own (the stdio stream lives as long as the process).
var pluginService = pb.FulfilmentPlugin_ServiceDesc.ServiceName

// dialOptions are the gRPC options of the host's connection to a plugin.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithStatsHandler(newPluginTracing())}
}

// pluginTracing gives each plugin protocol call otelgrpc's client span (it
// also sends the W3C trace context), and records the plugin's own server
// span, which the SDK reports in the call's trailer (sdk.SpanTrailer), as
// that client span's child: the plugin process exports nothing itself.
type pluginTracing struct {
	stats.Handler
	tracer trace.Tracer
}

func newPluginTracing() *pluginTracing {
	return &pluginTracing{
		Handler: otelgrpc.NewClientHandler(otelgrpc.WithFilter(traced),
			// The trace only: baggage a webhook's sender set never reaches a plugin.
			otelgrpc.WithPropagators(propagation.TraceContext{})),
		tracer: otel.Tracer(tracerName),
	}
}

func traced(info *stats.RPCTagInfo) bool {
	return strings.HasPrefix(info.FullMethodName, "/"+pluginService+"/")
}

// tracedCall is what the host knows of a traced call when the plugin's
// trailer arrives.
type tracedCall struct {
	method string // "service/method", the name otelgrpc gives the client span
	began  time.Time
}

type tracedCallKey struct{}

func (p *pluginTracing) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	ctx = p.Handler.TagRPC(ctx, info)
	if traced(info) && trace.SpanFromContext(ctx).IsRecording() {
		ctx = context.WithValue(ctx, tracedCallKey{}, tracedCall{
			method: strings.TrimPrefix(info.FullMethodName, "/"), began: time.Now(),
		})
	}
	return ctx
}

func (p *pluginTracing) HandleRPC(ctx context.Context, rs stats.RPCStats) {
	switch t := rs.(type) {
	case *stats.InTrailer:
		p.recordPluginSpan(ctx, t)
	case *stats.End:
		if t.Error != nil {
			// The span keeps the status code, never the plugin's message:
			// a plugin may quote its settings (its text is redacted only
			// where the host knows them, attempt.go).
			end := *t
			end.Error = status.Error(status.Code(t.Error), "")
			rs = &end
		}
	}
	p.Handler.HandleRPC(ctx, rs)
}

// recordPluginSpan records the span the plugin reported, if any, under the
// client span in ctx. The plugin is not trusted: a malformed report is
// ignored, and its times are kept within the host's view of the call.
func (p *pluginTracing) recordPluginSpan(ctx context.Context, t *stats.InTrailer) {
	call, ok := ctx.Value(tracedCallKey{}).(tracedCall)
	if !ok {
		return
	}
	vals := t.Trailer.Get(sdk.SpanTrailer)
	if len(vals) != 1 {
		return
	}
	rep, err := sdk.ParseReportedSpan(vals[0])
	if err != nil {
		return
	}
	start, end := clamp(rep.Start, call.began, time.Now()), rep.End
	end = clamp(end, start, time.Now())
	service, method, _ := strings.Cut(call.method, "/")
	_, span := p.tracer.Start(ctx, call.method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("rpc.system", "grpc"),
			attribute.String("rpc.service", service),
			attribute.String("rpc.method", method),
			attribute.String("rpc.grpc.status_code", rep.Code.String()),
			// Measured in the plugin process, recorded by the host.
			attribute.Bool("partnerhub.plugin.reported", true),
		))
	if rep.Code != codes.OK {
		span.SetStatus(otelcodes.Error, rep.Code.String())
	}
	span.End(trace.WithTimestamp(end))
}

// clamp returns t within [lo, hi].
func clamp(t, lo, hi time.Time) time.Time {
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}
