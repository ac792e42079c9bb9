package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestReportedSpanRoundTrip(t *testing.T) {
	t.Parallel()
	start := time.Unix(1_700_000_000, 123456789)
	s := ReportedSpan{Start: start, End: start.Add(42 * time.Millisecond), Code: codes.Unavailable}
	got, err := ParseReportedSpan(s.String())
	require.NoError(t, err)
	require.True(t, s.Start.Equal(got.Start))
	require.True(t, s.End.Equal(got.End))
	require.Equal(t, codes.Unavailable, got.Code)
}

func TestParseReportedSpanRefuses(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]string{
		"empty":           "",
		"other version":   "v2 1 2 0",
		"too few":         "v1 1 2",
		"too many":        "v1 1 2 0 9",
		"not a number":    "v1 1 x 0",
		"ends first":      "v1 5 4 0",
		"negative code":   "v1 1 2 -1",
		"unknown code":    "v1 1 2 17",
		"too long":        "v1 1 2 0" + strings.Repeat(" ", maxSpanTrailer),
		"overflowing int": "v1 1 99999999999999999999 0",
	} {
		_, err := ParseReportedSpan(v)
		require.ErrorIs(t, err, ErrInvalidSpan, name)
	}
}

// trailerStream records the trailer a handler sets.
type trailerStream struct {
	grpc.ServerTransportStream
	trailer metadata.MD
}

func (s *trailerStream) SetTrailer(md metadata.MD) error {
	s.trailer = metadata.Join(s.trailer, md)
	return nil
}

func TestReportSpan(t *testing.T) {
	t.Parallel()
	traced := metadata.Pairs("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	fulfil := &grpc.UnaryServerInfo{FullMethod: servicePrefix + "Fulfil"}
	tests := []struct {
		name   string
		md     metadata.MD
		info   *grpc.UnaryServerInfo
		err    error
		report bool
		code   codes.Code
	}{
		{"traced call", traced, fulfil, nil, true, codes.OK},
		{"traced failing call", traced, fulfil, status.Error(codes.Internal, "boom"), true, codes.Internal},
		{"untraced call", metadata.MD{}, fulfil, nil, false, 0},
		{"unsampled call", metadata.Pairs("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"), fulfil, nil, false, 0},
		{"malformed traceparent", metadata.Pairs("traceparent", "x"), fulfil, nil, false, 0},
		{"traceparent with a zero trace id", metadata.Pairs("traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"), fulfil, nil, false, 0},
		{"traceparent in capitals", metadata.Pairs("traceparent", "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"), fulfil, nil, false, 0},
		{"go-plugin's own service", traced, &grpc.UnaryServerInfo{FullMethod: "/plugin.GRPCController/Shutdown"}, nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stream := &trailerStream{}
			ctx := grpc.NewContextWithServerTransportStream(metadata.NewIncomingContext(context.Background(), tt.md), stream)
			before := time.Now()
			resp, err := reportSpan(ctx, "req", tt.info, func(context.Context, any) (any, error) { return "resp", tt.err })
			require.Equal(t, "resp", resp)
			require.Equal(t, tt.err, err, "the handler's answer is passed on as is")
			vals := stream.trailer.Get(SpanTrailer)
			if !tt.report {
				require.Empty(t, vals)
				return
			}
			require.Len(t, vals, 1)
			s, err := ParseReportedSpan(vals[0])
			require.NoError(t, err)
			require.Equal(t, tt.code, s.Code)
			require.False(t, s.Start.Before(before.Truncate(0)))
			require.False(t, s.End.After(time.Now()))
		})
	}
}

// TestPluginLogCarriesTrace: a plugin's lines logged inside a traced call
// carry the host's trace, sampled or not; others do not.
func TestPluginLogCarriesTrace(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo).With("plugin", "wallet")
	for name, tt := range map[string]struct {
		traceparent string
		want        bool
	}{
		"sampled":   {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", true},
		"unsampled": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", true},
		"malformed": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01", false},
	} {
		buf.Reset()
		ctx := grpc.NewContextWithServerTransportStream(
			metadata.NewIncomingContext(context.Background(), metadata.Pairs("traceparent", tt.traceparent)), &trailerStream{})
		_, err := reportSpan(ctx, nil, &grpc.UnaryServerInfo{FullMethod: servicePrefix + "Fulfil"}, func(ctx context.Context, _ any) (any, error) {
			log.InfoContext(ctx, "crediting")
			return nil, nil
		})
		require.NoError(t, err)
		var line map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &line), name)
		require.Equal(t, "wallet", line["plugin"], name)
		if !tt.want {
			require.NotContains(t, line, "trace_id", name)
			continue
		}
		require.Equal(t, "0af7651916cd43dd8448eb211c80319c", line["trace_id"], name)
		require.Equal(t, "b7ad6b7169203331", line["span_id"], name)
	}
}
