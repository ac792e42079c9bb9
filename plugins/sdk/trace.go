package sdk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/partnerhub/partnerhub/plugins/proto/pluginv1"
)

// A plugin's own server span reaches the host's trace through the call's
// gRPC trailer. A plugin process runs with an empty environment and may have
// no network, so it cannot export spans itself. Instead, for every call the
// host records (a W3C traceparent, sampled), the SDK measures the call inside
// the plugin process — when the handler began and ended, and the status it
// answered — and reports that in the trailer SpanTrailer. The host records
// it as a server span, child of its client span for the call, in the same
// trace (plugins/host/trace.go). Plugin authors do nothing.

// SpanTrailer is the gRPC trailer key of the plugin's reported span.
const SpanTrailer = "partnerhub-plugin-span"

// spanVersion prefixes the trailer's value, so the format can change.
const spanVersion = "v1"

// maxSpanTrailer bounds a trailer value the host will parse.
const maxSpanTrailer = 128

// ReportedSpan is the plugin's side of one call, as the SDK measured it in
// the plugin process.
type ReportedSpan struct {
	Start, End time.Time
	// Code is the gRPC status code the plugin answered with.
	Code codes.Code
}

// String encodes s as SpanTrailer's value: "v1 <start> <end> <code>",
// times in Unix nanoseconds.
func (s ReportedSpan) String() string {
	return fmt.Sprintf("%s %d %d %d", spanVersion, s.Start.UnixNano(), s.End.UnixNano(), s.Code)
}

// ErrInvalidSpan means a SpanTrailer value is malformed.
var ErrInvalidSpan = errors.New("sdk: invalid reported span")

// ParseReportedSpan decodes a SpanTrailer value. The plugin is not trusted:
// the host must still bound the times to its own view of the call.
func ParseReportedSpan(v string) (ReportedSpan, error) {
	if len(v) > maxSpanTrailer {
		return ReportedSpan{}, fmt.Errorf("%w: %d bytes", ErrInvalidSpan, len(v))
	}
	f := strings.Fields(v)
	if len(f) != 4 || f[0] != spanVersion {
		return ReportedSpan{}, fmt.Errorf("%w: want %q and three numbers", ErrInvalidSpan, spanVersion)
	}
	var n [3]int64
	for i := range n {
		var err error
		if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return ReportedSpan{}, fmt.Errorf("%w: %q is not a number", ErrInvalidSpan, f[i+1])
		}
	}
	if n[1] < n[0] || n[2] < 0 || n[2] > int64(codes.Unauthenticated) {
		return ReportedSpan{}, fmt.Errorf("%w: ends before it starts or unknown code", ErrInvalidSpan)
	}
	return ReportedSpan{Start: time.Unix(0, n[0]), End: time.Unix(0, n[1]), Code: codes.Code(n[2])}, nil
}

// newGRPCServer is go-plugin's default gRPC server with reportSpan installed.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return plugin.DefaultGRPCServer(append(opts, grpc.ChainUnaryInterceptor(reportSpan)))
}

// servicePrefix is the method prefix of the plugin protocol's calls; go-plugin's
// own services (stdio, controller) on the same server are not reported.
var servicePrefix = "/" + pb.FulfilmentPlugin_ServiceDesc.ServiceName + "/"

// reportSpan gives a traced call's context the host's trace (the plugin's
// log lines carry it, NewLogger), and times a sampled plugin protocol call
// and reports it in the trailer. An untraced call costs nothing.
func reportSpan(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	tp := md.Get("traceparent")
	if len(tp) != 1 {
		return handler(ctx, req)
	}
	call, ok := parseTraceparent(tp[0])
	if !ok {
		return handler(ctx, req)
	}
	ctx = context.WithValue(ctx, callTraceKey{}, call)
	if !call.sampled || !strings.HasPrefix(info.FullMethod, servicePrefix) {
		return handler(ctx, req)
	}
	start := time.Now()
	resp, err := handler(ctx, req)
	s := ReportedSpan{Start: start, End: time.Now(), Code: status.Code(err)}
	// A failure to set the trailer only loses the span, never the call.
	_ = grpc.SetTrailer(ctx, metadata.Pairs(SpanTrailer, s.String()))
	return resp, err
}

// callTrace is the host's trace context of a call: its trace, and the
// host's span for the call (the plugin's own span is recorded by the host).
type callTrace struct {
	traceID, spanID string
	sampled         bool
}

type callTraceKey struct{}

// parseTraceparent reads a W3C traceparent, version 00:
// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>".
func parseTraceparent(v string) (callTrace, bool) {
	p := strings.Split(v, "-")
	if len(p) != 4 || p[0] != "00" || len(p[1]) != 32 || len(p[2]) != 16 || len(p[3]) != 2 {
		return callTrace{}, false
	}
	for _, part := range p[1:] {
		for _, c := range part {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return callTrace{}, false
			}
		}
	}
	flags, err := strconv.ParseUint(p[3], 16, 8)
	if err != nil || p[1] == strings.Repeat("0", 32) || p[2] == strings.Repeat("0", 16) {
		return callTrace{}, false
	}
	return callTrace{traceID: p[1], spanID: p[2], sampled: flags&1 == 1}, true
}
