package pay1st_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

// echoes sits in front of the simulator and answers the next creates with
// the given statuses, quoting the webhookUrl they sent (as a Pay1st that
// explains a refusal might); the rest reach the simulator.
type echoes struct {
	sim  *sim.Simulator
	mu   sync.Mutex
	next []int
}

func (e *echoes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := 0
	if r.URL.Path == pay1st.PathCreate {
		e.mu.Lock()
		if len(e.next) > 0 {
			code, e.next = e.next[0], e.next[1:]
		}
		e.mu.Unlock()
	}
	if code == 0 {
		e.sim.ServeHTTP(w, r)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		WebhookURL string `json:"webhookUrl"`
	}
	_ = json.Unmarshal(raw, &body)
	msg, _ := json.Marshal(map[string]string{"errorCode": "BAD_URL", "errorMessage": "webhookUrl " + body.WebhookURL + " refused"})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(msg)
}

func TestCallScopeRedactsSecretsAndTellsAmbiguity(t *testing.T) {
	t.Parallel()
	s, err := sim.New(sim.Options{Partners: []sim.Partner{{PartnerID: 42, PartnerCode: "acme",
		APIKey: testCreds.APIKey, APISecret: testCreds.APISecret, SigningKey: testCreds.SigningKey}}})
	require.NoError(t, err)
	e := &echoes{sim: s}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	logs := &bytes.Buffer{}
	c, err := pay1st.NewClient(pay1st.ClientConfig{BaseURL: srv.URL, MaxAttempts: 2,
		RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	const token = "whtok-0123456789abcdef"
	req := paymentRequest("order-echo")
	req.WebhookURL = "https://hub.example.com/pay1st/staging/acme/payment-events?token=" + token

	// A 503 quoting the URL (logged by the retry), then a 400 quoting it
	// (returned): the token is in neither; the scope says an attempt may
	// have reached Pay1st.
	e.next = []int{http.StatusServiceUnavailable, http.StatusBadRequest}
	scope := &pay1st.CallScope{Secrets: []string{token}}
	_, err = c.CreatePayment(pay1st.WithCallScope(context.Background(), scope), testCreds, req)
	require.ErrorIs(t, err, pay1st.ErrBadRequest)
	require.Contains(t, err.Error(), "webhookUrl", "Pay1st's words are kept")
	require.NotContains(t, err.Error(), token)
	require.Contains(t, logs.String(), "retrying")
	require.NotContains(t, logs.String(), token)
	require.True(t, scope.Ambiguous(), "the 503 may have been about a created payment")

	// A plain 400: nothing ambiguous. The token request's own failures
	// never count (no create was sent).
	e.next = []int{http.StatusBadRequest}
	scope = &pay1st.CallScope{Secrets: []string{token}}
	_, err = c.CreatePayment(pay1st.WithCallScope(context.Background(), scope), testCreds, req)
	require.ErrorIs(t, err, pay1st.ErrBadRequest)
	require.NotContains(t, err.Error(), token)
	require.False(t, scope.Ambiguous())

	// Without a scope the client works as before (and cannot know the
	// token): the control that proves the scope does the redacting.
	e.next = []int{http.StatusBadRequest}
	_, err = c.CreatePayment(context.Background(), testCreds, req)
	require.Contains(t, err.Error(), token)
	require.False(t, (*pay1st.CallScope)(nil).Ambiguous())
}
