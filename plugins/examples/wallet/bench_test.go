package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// BenchmarkFulfil credits new keys into a wallet already holding `held`
// credits, from 10 goroutines at once (the host's default per-tenant cap),
// in process: the wallet's own cost per credit, file writes included.
//
//	go test -run '^$' -bench Fulfil ./plugins/examples/wallet
func BenchmarkFulfil(b *testing.B) {
	for _, held := range []int{0, 2000, 10000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			w := newWallet(slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.NoError(b, w.Configure(b.Context(), sdk.ConfigureRequest{Settings: map[string]string{settingDataDir: b.TempDir()}}))
			for i := range held {
				res, err := w.Fulfil(b.Context(), fulfilReq(fmt.Sprintf("seed-%d", i), fmt.Sprintf("SEED-%d", i), "p1", gold("1", 1)))
				require.NoError(b, err)
				require.Equal(b, sdk.OutcomeFulfilled, res.Outcome)
			}
			var n atomic.Int64
			b.SetParallelism(5) // × GOMAXPROCS(2) = 10 callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					res, err := w.Fulfil(b.Context(), fulfilReq(fmt.Sprintf("k-%d", i), fmt.Sprintf("PAY-%d", i), "p2", gold("1", 1)))
					if err != nil || res.Outcome != sdk.OutcomeFulfilled {
						b.Errorf("fulfil: %v %v", res, err)
						return
					}
				}
			})
		})
	}
}
