package pay1st_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// fulfilFront sits in front of the simulator: its fulfilment endpoint
// hangs (until the client gives up) or pads the simulator's answer past
// the client's limit, as mode says; every call to it is counted.
type fulfilFront struct {
	sim     *sim.Simulator
	mode    atomic.Value // "", "hang", "pad"
	calls   atomic.Int64
	release chan struct{} // ends hung calls at cleanup
}

func (f *fulfilFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != pay1st.PathFulfilments {
		f.sim.ServeHTTP(w, r)
		return
	}
	f.calls.Add(1)
	switch f.mode.Load() {
	case "hang":
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving once the body is read
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
	case "pad":
		rec := httptest.NewRecorder()
		f.sim.ServeHTTP(rec, r)
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		_, _ = w.Write(bytes.Repeat([]byte(" "), 2000))
	default:
		f.sim.ServeHTTP(w, r)
	}
}

// TestCompleteFulfilmentSentOnce: Pay1st documents no idempotency for
// Fulfilment Completion. A 2xx is accepted whatever its body (here larger
// than MaxResponseBytes), and a try that timed out is not sent again by
// the client (its caller's retries decide), while a 5xx still is.
func TestCompleteFulfilmentSentOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sim.New(sim.Options{Partners: []sim.Partner{{PartnerID: 42, PartnerCode: "acme", APIKey: testCreds.APIKey,
		APISecret: testCreds.APISecret, SigningKey: testCreds.SigningKey}}})
	require.NoError(t, err)
	front := &fulfilFront{sim: s, release: make(chan struct{})}
	srv := httptest.NewServer(front)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(front.release) })
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, Timeout: 300 * time.Millisecond, MaxAttempts: 3,
		MaxResponseBytes: 1000, RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond})
	require.NoError(t, err)
	created, err := c.CreatePayment(ctx, testCreds, paymentRequest("order-once"))
	require.NoError(t, err)
	require.NoError(t, s.Pay(ctx, created.Reference, sim.Lose())) // no webhook here
	report := pay1st.Fulfilment{Reference: created.Reference,
		Products: []pay1st.FulfilmentProduct{{SKU: "gem", Quantity: 3, FulfilmentTime: time.Now()}}}

	front.mode.Store("pad")
	require.NoError(t, c.CompleteFulfilment(ctx, testCreds, report), "a 2xx is the answer, whatever its body")
	require.EqualValues(t, 1, front.calls.Load())
	require.Len(t, s.Fulfilments(created.Reference), 1)
	_, err = c.QueryPayment(ctx, testCreds, created.Reference)
	require.NoError(t, err, "other calls still read their body")

	front.mode.Store("hang")
	err = c.CompleteFulfilment(ctx, testCreds, report)
	require.ErrorIs(t, err, pay1st.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.EqualValues(t, 2, front.calls.Load(), "a timed-out try is not sent again")
}
