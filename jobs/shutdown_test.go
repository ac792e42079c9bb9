package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
)

// TestStopAndCancelReleasesJob: a plugin call cut short because the
// workers stop past their deadline puts the job back without using up an
// attempt — with one attempt allowed, it is neither discarded nor marked
// failed — and the next start fulfils it.
func TestStopAndCancelReleasesJob(t *testing.T) {
	t.Parallel()
	b := setup(t, 1)
	b.start()
	id := b.pay(t, "acme", "C-STOP-P", 5) // a 2 s call
	require.Eventually(t, func() bool {
		f, err := b.payments.Fulfilment(context.Background(), id, payment.KindFulfil)
		return err == nil && f.Attempts == 1
	}, waitLong, pollEvery, "the plugin call started")

	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.client.StopAndCancel(stopCtx))
	s := b.state(t, id)
	require.Equal(t, "available", s.State, "released for another worker: %+v", s)
	require.Equal(t, 0, s.Attempt, "no attempt used up")
	require.Equal(t, 0, s.Errors)
	require.Equal(t, payment.StatePending, s.FState)

	require.NoError(t, b.client.Start(context.Background()))
	s = b.waitFor(t, id, "completed")
	require.Equal(t, payment.StateSucceeded, s.FState)
}
