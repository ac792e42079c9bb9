package host

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// TestPluginSpanFromTrailer: the span a plugin reports becomes a server span
// under the call's client span, with its times kept within the call, and a
// report that does not parse, or a call that is not traced, records nothing.
func TestPluginSpanFromTrailer(t *testing.T) {
	t.Parallel()
	far := time.Now().Add(-time.Hour) // a plugin's clock, or word, is not trusted
	tests := []struct {
		name    string
		method  string
		trailer metadata.MD
		want    bool
		code    otelcodes.Code
	}{
		{"reported", "/" + pluginService + "/Fulfil", reported(time.Now(), time.Now(), codes.OK), true, otelcodes.Unset},
		{"reported failure", "/" + pluginService + "/Fulfil", reported(time.Now(), time.Now(), codes.Internal), true, otelcodes.Error},
		{"times outside the call", "/" + pluginService + "/Reverse", reported(far, time.Now().Add(time.Hour), codes.OK), true, otelcodes.Unset},
		{"malformed", "/" + pluginService + "/Fulfil", metadata.Pairs(sdk.SpanTrailer, "v1 garbage"), false, 0},
		{"two reports", "/" + pluginService + "/Fulfil", metadata.Join(reported(far, far, 0), reported(far, far, 0)), false, 0},
		{"no report", "/" + pluginService + "/Fulfil", metadata.MD{}, false, 0},
		{"go-plugin's own call", "/plugin.GRPCStdio/StreamStdio", reported(time.Now(), time.Now(), codes.OK), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			p := &pluginTracing{
				Handler: otelgrpc.NewClientHandler(otelgrpc.WithFilter(traced), otelgrpc.WithTracerProvider(tp)),
				tracer:  tp.Tracer(tracerName),
			}
			ctx, job := tp.Tracer("test").Start(context.Background(), "job")
			began := time.Now()
			ctx = p.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: tt.method})
			p.HandleRPC(ctx, &stats.InTrailer{Trailer: tt.trailer})
			p.HandleRPC(ctx, &stats.End{BeginTime: began, EndTime: time.Now()})
			job.End()

			var client, server []tracetest.SpanStub
			for _, s := range exp.GetSpans() {
				switch s.SpanKind {
				case trace.SpanKindClient:
					client = append(client, s)
				case trace.SpanKindServer:
					server = append(server, s)
				}
			}
			if !tt.want {
				require.Empty(t, server)
				return
			}
			require.Len(t, client, 1)
			require.Len(t, server, 1)
			s := server[0]
			require.Equal(t, client[0].SpanContext.SpanID(), s.Parent.SpanID())
			require.Equal(t, client[0].Name, s.Name)
			require.Equal(t, tt.code, s.Status.Code)
			require.False(t, s.StartTime.Before(began.Truncate(0)), "starts within the call")
			require.False(t, s.EndTime.After(client[0].EndTime), "ends within the call")
			require.False(t, s.EndTime.Before(s.StartTime))
		})
	}
}

// TestPluginErrorTextNotTraced: a failed call's span has the status code,
// not the plugin's message, which may quote its settings.
func TestPluginErrorTextNotTraced(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	p := &pluginTracing{
		Handler: otelgrpc.NewClientHandler(otelgrpc.WithFilter(traced), otelgrpc.WithTracerProvider(tp)),
		tracer:  tp.Tracer(tracerName),
	}
	ctx, job := tp.Tracer("test").Start(context.Background(), "job")
	ctx = p.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: "/" + pluginService + "/Fulfil"})
	p.HandleRPC(ctx, &stats.End{BeginTime: time.Now(), EndTime: time.Now(),
		Error: status.Error(codes.Unavailable, "game API refused api_key s3cr3t")})
	job.End()
	var found bool
	for _, s := range exp.GetSpans() {
		if s.SpanKind != trace.SpanKindClient {
			continue
		}
		found = true
		require.Equal(t, otelcodes.Error, s.Status.Code)
		require.NotContains(t, fmt.Sprint(s.Status, s.Attributes, s.Events), "s3cr3t")
	}
	require.True(t, found, "the call has its client span")
}

func reported(start, end time.Time, code codes.Code) metadata.MD {
	return metadata.Pairs(sdk.SpanTrailer, sdk.ReportedSpan{Start: start, End: end, Code: code}.String())
}
