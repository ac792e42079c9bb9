// Command wallet is an example partnerhub fulfilment plugin: it credits a
// per-player balance of digital currency, idempotently, kept in a JSON file
// (wallet.json) in its data directory. See README.md.
//
// It is built as its own executable and started by the partnerhub host; run
// by hand it only prints a notice.
package main

import (
	"log/slog"
	"os"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

func main() {
	// stderr is read by the host, which re-logs each line as its own.
	log := sdk.NewLogger(os.Stderr, slog.LevelInfo)
	sdk.Serve(newWallet(log))
}
