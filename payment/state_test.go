package payment

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
)

func TestPhaseOfCoversEveryStatus(t *testing.T) {
	t.Parallel()
	want := map[Phase][]pay1st.Status{
		PhasePaid:     {pay1st.StatusSuccessful},
		PhaseReversed: {pay1st.StatusRefund, pay1st.StatusChargeback},
		PhaseFailed:   {pay1st.StatusFailed, pay1st.StatusCancelled, pay1st.StatusAbandoned},
	}
	got := map[Phase][]pay1st.Status{}
	for _, s := range pay1st.Statuses() {
		got[PhaseOf(s)] = append(got[PhaseOf(s)], s)
	}
	require.Len(t, pay1st.Statuses(), 17)
	for p, ss := range want {
		require.ElementsMatch(t, ss, got[p], "phase %d", p)
	}
	require.Len(t, got[PhaseOpen], 17-6, "the rest are steps on the way")
}

func TestTransitionTable(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)
	later := t0.Add(time.Second)
	tests := []struct {
		name    string
		current pay1st.Status
		status  pay1st.Status
		updated time.Time
		want    Transition
		trigger Trigger
	}{
		{"pending then successful", pay1st.StatusPending, pay1st.StatusSuccessful, later, Apply, TriggerFulfil},
		{"new then send otp", pay1st.StatusNew, pay1st.StatusSendOTP, later, Apply, TriggerNone},
		{"pending then failed", pay1st.StatusPending, pay1st.StatusFailed, later, Apply, TriggerNone},
		{"failed then successful (paid on retry)", pay1st.StatusFailed, pay1st.StatusSuccessful, later, Apply, TriggerFulfil},
		{"abandoned then pending", pay1st.StatusAbandoned, pay1st.StatusPending, later, Apply, TriggerNone},
		{"successful then refund", pay1st.StatusSuccessful, pay1st.StatusRefund, later, Apply, TriggerReverse},
		{"successful then chargeback", pay1st.StatusSuccessful, pay1st.StatusChargeback, later, Apply, TriggerReverse},
		{"pending then refund", pay1st.StatusPending, pay1st.StatusRefund, later, Apply, TriggerReverse},
		{"refund then chargeback", pay1st.StatusRefund, pay1st.StatusChargeback, later, Apply, TriggerNone},
		{"refund then newer refund", pay1st.StatusRefund, pay1st.StatusRefund, later, Apply, TriggerNone},
		{"successful then newer successful", pay1st.StatusSuccessful, pay1st.StatusSuccessful, later, Apply, TriggerNone},
		{"successful then pending", pay1st.StatusSuccessful, pay1st.StatusPending, later, Flag, TriggerNone},
		{"successful then failed", pay1st.StatusSuccessful, pay1st.StatusFailed, later, Flag, TriggerNone},
		{"successful then pending investigation", pay1st.StatusSuccessful, pay1st.StatusPendingInvestigation, later, Flag, TriggerNone},
		{"refund then successful", pay1st.StatusRefund, pay1st.StatusSuccessful, later, Flag, TriggerNone},
		{"chargeback then pending", pay1st.StatusChargeback, pay1st.StatusPending, later, Flag, TriggerNone},
		{"older successful after pending", pay1st.StatusPending, pay1st.StatusSuccessful, t0.Add(-time.Second), Stale, TriggerNone},
		{"older pending after successful", pay1st.StatusSuccessful, pay1st.StatusPending, t0.Add(-time.Second), Stale, TriggerNone},
		{"tie: successful beats pending", pay1st.StatusPending, pay1st.StatusSuccessful, t0, Apply, TriggerFulfil},
		{"tie: refund beats successful", pay1st.StatusSuccessful, pay1st.StatusRefund, t0, Apply, TriggerReverse},
		{"tie: pending loses to successful", pay1st.StatusSuccessful, pay1st.StatusPending, t0, Stale, TriggerNone},
		{"tie: successful loses to refund", pay1st.StatusRefund, pay1st.StatusSuccessful, t0, Stale, TriggerNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Decide(tt.status, tt.updated, tt.current, t0)
			require.Equal(t, tt.want, got)
			if got == Apply {
				require.Equal(t, tt.trigger, TriggerOf(tt.current, tt.status, false))
			}
		})
	}
}

func TestTransitionTableIsTotal(t *testing.T) {
	t.Parallel()
	// Every pair of the 17 statuses has an answer, and the only forbidden
	// moves leave SUCCESSFUL for anything but a reversal, or leave
	// REFUND/CHARGEBACK at all.
	for _, from := range pay1st.Statuses() {
		for _, to := range pay1st.Statuses() {
			fp, tp := PhaseOf(from), PhaseOf(to)
			want := fp == tp || fp == PhaseOpen || fp == PhaseFailed || (fp == PhasePaid && tp == PhaseReversed)
			require.Equal(t, want, Allowed(from, to), "%s -> %s", from, to)
		}
	}
}

func TestFirstEventTriggers(t *testing.T) {
	t.Parallel()
	// The first event of a payment is applied whatever it is.
	require.Equal(t, TriggerFulfil, TriggerOf(pay1st.StatusSuccessful, pay1st.StatusSuccessful, true))
	require.Equal(t, TriggerReverse, TriggerOf(pay1st.StatusRefund, pay1st.StatusRefund, true))
	require.Equal(t, TriggerNone, TriggerOf(pay1st.StatusPending, pay1st.StatusPending, true))
}
