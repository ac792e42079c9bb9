package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUploadReadTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits PluginLimits
		size   int64
		want   time.Duration
	}{
		{"empty: the grace", PluginLimits{}, 0, uploadGrace},
		{"128 KiB: a second more", PluginLimits{}, 128 << 10, uploadGrace + time.Second},
		{"64 MiB at 128 KiB/s", PluginLimits{}, 64 << 20, uploadGrace + 512*time.Second},
		{"capped by the upload timeout", PluginLimits{UploadTimeout: time.Minute}, 64 << 20, time.Minute},
		{"faster minimum rate", PluginLimits{UploadMinRate: 1 << 20}, 64 << 20, uploadGrace + 64*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.limits.uploadReadTime(tt.size))
		})
	}
}

func TestSwitchReserve(t *testing.T) {
	t.Parallel()
	for budget, want := range map[time.Duration]time.Duration{
		2 * time.Second:  time.Second,
		45 * time.Second: 9 * time.Second,
		10 * time.Minute: 10 * time.Second,
	} {
		require.Equal(t, want, switchReserve(budget), budget)
	}
}
