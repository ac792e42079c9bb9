package payment

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/pay1st"
)

func TestSupersedes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 17, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		status, current pay1st.Status
		updated, curAt  time.Time
		want            bool
	}{
		{"newer wins", pay1st.StatusPending, pay1st.StatusSuccessful, t0.Add(time.Second), t0, true},
		{"older never wins", pay1st.StatusRefund, pay1st.StatusPending, t0.Add(-time.Second), t0, false},
		{"tie: success beats pending", pay1st.StatusSuccessful, pay1st.StatusPending, t0, t0, true},
		{"tie: pending does not undo success", pay1st.StatusPending, pay1st.StatusSuccessful, t0, t0, false},
		{"tie: success beats failure", pay1st.StatusSuccessful, pay1st.StatusFailed, t0, t0, true},
		{"tie: refund beats success", pay1st.StatusRefund, pay1st.StatusSuccessful, t0, t0, true},
		{"tie: same rank keeps current", pay1st.StatusFailed, pay1st.StatusCancelled, t0, t0, false},
		{"sub-microsecond newer is a tie", pay1st.StatusPending, pay1st.StatusSuccessful, t0.Add(500 * time.Nanosecond), t0, false},
		{"sub-microsecond stored is a tie", pay1st.StatusSuccessful, pay1st.StatusPending, t0, t0.Add(999 * time.Nanosecond), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, supersedes(tt.status, tt.updated, tt.current, tt.curAt))
		})
	}
}
