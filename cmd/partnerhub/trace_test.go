package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
	"github.com/partnerhub/partnerhub/tenant"
)

// TestOneTracePerPayment: a signed webhook through the real server, its
// fulfil job and the real wallet plugin process make one trace — the
// webhook's server span, the job's span under it, the plugin call's client
// span under that, and the plugin's own server span (reported by the SDK)
// under the call — and the lines logged meanwhile carry its IDs.
func TestOneTracePerPayment(t *testing.T) {
	// Not parallel: the tracer provider is the process's.
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})

	s, logs := startInProcess(t)
	key := s.createTenant(t, "tracy", 7007)
	s.activate(t, "tracy", plugintest.Wallet(t).Bytes)

	// Pay1st's own trace context is not joined: the webhook starts ours.
	outside := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	body := sampleEvent("tracy", 7007, "C-TRACE-1-P", 77)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	req, err := http.NewRequest(http.MethodPost, s.url+"/pay1st/staging/tracy/payment-events", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pay1st.HeaderTimestamp, ts)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(key, ts, body))
	req.Header.Set("traceparent", outside)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-TRACE-1-P") == payment.StateSucceeded },
		20*time.Second, 50*time.Millisecond, "fulfilment did not succeed")

	const fulfilCall = "partnerhub.plugin.v1.FulfilmentPlugin/Fulfil"
	var webhook, job, client, server tracetest.SpanStub
	require.Eventually(t, func() bool {
		webhook, job, client, server = tracetest.SpanStub{}, tracetest.SpanStub{}, tracetest.SpanStub{}, tracetest.SpanStub{}
		spans := exp.GetSpans()
		for _, sp := range spans {
			if sp.SpanKind == trace.SpanKindServer && sp.Name == "POST /pay1st/{env}/{partnerCode}/payment-events" {
				webhook = sp
			}
		}
		if !webhook.SpanContext.IsValid() {
			return false
		}
		for _, sp := range spans {
			if sp.SpanContext.TraceID() != webhook.SpanContext.TraceID() {
				continue
			}
			switch {
			case sp.Name == "river.work fulfil":
				job = sp
			case sp.Name == fulfilCall && sp.SpanKind == trace.SpanKindClient:
				client = sp
			case sp.Name == fulfilCall && sp.SpanKind == trace.SpanKindServer:
				server = sp
			}
		}
		return job.SpanContext.IsValid() && client.SpanContext.IsValid() && server.SpanContext.IsValid()
	}, 10*time.Second, 50*time.Millisecond, "spans of the payment's trace: %v", spanNames(exp.GetSpans()))

	require.False(t, webhook.Parent.IsValid(), "the webhook's span is the trace's root")
	require.NotEqual(t, "0af7651916cd43dd8448eb211c80319c", webhook.SpanContext.TraceID().String())
	require.Len(t, webhook.Links, 1, "Pay1st's trace context is linked, not joined")
	require.Equal(t, webhook.SpanContext.SpanID(), job.Parent.SpanID(), "the job continues the webhook's trace")
	require.Equal(t, trace.SpanKindConsumer, job.SpanKind)
	require.Equal(t, job.SpanContext.SpanID(), client.Parent.SpanID(), "the plugin call is the job's")
	require.Equal(t, client.SpanContext.SpanID(), server.Parent.SpanID(), "the plugin's span is the call's")
	require.False(t, server.StartTime.Before(client.StartTime), "the plugin's span lies within the call")
	require.False(t, server.EndTime.After(client.EndTime))

	// Lines logged inside the request and the job carry the trace.
	traceID := webhook.SpanContext.TraceID().String()
	var inTrace []string
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line[telemetry.LogTraceID] == traceID {
			require.NotEmpty(t, line[telemetry.LogSpanID], sc.Text())
			inTrace = append(inTrace, line["msg"].(string))
		}
	}
	require.Contains(t, inTrace, "plugin started", "the job's plugin start is logged in the trace")
	require.Contains(t, inTrace, "fulfilled", "and the plugin's own line, through the SDK's logger")
	require.NotContains(t, logs.String(), key, "the Signing Key never reaches the logs")
}

// startInProcess runs serve in this process with a private database and
// JSON logs, and returns it as a server (no process: don't call stop)
// with its logs.
func startInProcess(t *testing.T) (*server, *syncBuffer) {
	t.Helper()
	secret := make([]byte, 32)
	for i := range secret {
		secret[i] = byte(i)
	}
	s := &server{operatorKey: tenant.NewKey(), dataDir: tempDir(t), logs: &syncBuffer{}}
	env := map[string]string{
		"PARTNERHUB_DATABASE_URL": pgtest.NewURL(t),
		"PARTNERHUB_SECRET_KEY":   base64.StdEncoding.EncodeToString(secret),
		"PARTNERHUB_OPERATOR_KEY": s.operatorKey,
		"PARTNERHUB_LISTEN":       "127.0.0.1:0",
		"PARTNERHUB_DATA_DIR":     s.dataDir,
		"PARTNERHUB_LOG_LEVEL":    "debug",
		"PARTNERHUB_LOG_FORMAT":   "json",
	}
	cfg, err := config.Load("serve", nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan services, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, newLogger(cfg, s.logs), func(svc services, addr net.Addr) error {
			s.url = "http://" + addr.String()
			ready <- svc
			return nil
		})
	}()
	// done is read once: by the select when serve failed to start (its
	// error reported), else by the cleanup after stopping it.
	var finished bool
	t.Cleanup(func() {
		cancel()
		if !finished {
			require.NoError(t, <-done)
		}
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs.String())
		}
	})
	select {
	case svc := <-ready:
		s.pool, s.tenants, s.registry = svc.pool, svc.tenants, svc.plugins
	case err := <-done:
		finished = true
		t.Fatalf("serve: %v", err)
	}
	return s, s.logs
}

func spanNames(spans tracetest.SpanStubs) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name+" "+s.SpanContext.TraceID().String()[:8])
	}
	return names
}
