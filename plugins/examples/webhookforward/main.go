// Command webhookforward is an example partnerhub fulfilment plugin for
// studios that would rather not write one: it forwards every fulfilment,
// reversal and player lookup as a signed HTTP POST to the studio's own
// backend and turns the backend's answer into the plugin's outcome. See
// README.md for the settings, the request format and how to verify the
// signature.
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
	sdk.Serve(newForwarder(log))
}
