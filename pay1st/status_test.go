package pay1st

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatuses(t *testing.T) {
	t.Parallel()
	all := Statuses()
	require.Len(t, all, 17)
	seen := map[Status]bool{}
	for _, s := range all {
		require.True(t, s.Valid(), s)
		require.False(t, seen[s], "duplicate %s", s)
		seen[s] = true
	}
	all[0] = "MUTATED"
	require.Equal(t, StatusAbandoned, Statuses()[0], "Statuses must return a copy")
}

func TestStatusValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Status
		want bool
	}{
		{StatusSuccessful, true},
		{StatusPendingInvestigation, true},
		{StatusSendValidationToken, true},
		{"SEND_PIN", true},
		{"", false},
		{"successful", false},
		{"SUCCESSFUL ", false},
		{"PAID", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.s.Valid(), "%q", tc.s)
	}
}
