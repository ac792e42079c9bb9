package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// PluginLimits are the upload and activation routes' own deadlines, which
// replace the HTTP server's read and write timeouts there: an upload may
// take longer than the read timeout allows a whole request, and an
// activation may need longer than the write timeout to start a plugin.
// Zero values take the defaults (PARTNERHUB_PLUGIN_UPLOAD_MIN_RATE,
// PARTNERHUB_PLUGIN_UPLOAD_TIMEOUT, PARTNERHUB_PLUGIN_ACTIVATE_TIMEOUT).
type PluginLimits struct {
	// UploadMinRate is the slowest upload accepted, in bytes per second:
	// its body must arrive within uploadGrace plus its size at this rate,
	// at most UploadTimeout.
	UploadMinRate int64
	UploadTimeout time.Duration
	// ActivateTimeout bounds an activation, from waiting for the plugin's
	// start to the switch; the answer is written even past the server's
	// write timeout.
	ActivateTimeout time.Duration
}

// Defaults of PluginLimits, and the fixed margins around them.
const (
	DefaultPluginUploadMinRate   = 128 << 10 // 1 Mbit/s
	DefaultPluginUploadTimeout   = 10 * time.Minute
	DefaultPluginActivateTimeout = 45 * time.Second
	// uploadGrace is added to an upload's time at the minimum rate: a
	// small upload on a slow start still gets through.
	uploadGrace = 15 * time.Second
	// uploadStoreTime is the time an upload has, once its body arrived, to
	// be checked and stored in Postgres.
	uploadStoreTime = time.Minute
	// answerMargin is the time the answer has to be written after the
	// route's own deadline.
	answerMargin = 15 * time.Second
)

func (l PluginLimits) withDefaults() PluginLimits {
	if l.UploadMinRate <= 0 {
		l.UploadMinRate = DefaultPluginUploadMinRate
	}
	if l.UploadTimeout <= 0 {
		l.UploadTimeout = DefaultPluginUploadTimeout
	}
	if l.ActivateTimeout <= 0 {
		l.ActivateTimeout = DefaultPluginActivateTimeout
	}
	return l
}

// uploadReadTime is how long an upload of size bytes may take to arrive.
func (l PluginLimits) uploadReadTime(size int64) time.Duration {
	l = l.withDefaults()
	at := time.Duration(float64(size) / float64(l.UploadMinRate) * float64(time.Second))
	return min(uploadGrace+at, l.UploadTimeout)
}

// switchReserve is the part of an activation's time kept for the switch in
// Postgres after the plugin's start and Describe.
func switchReserve(budget time.Duration) time.Duration {
	return min(max(budget/5, time.Second), 10*time.Second)
}

// routeControl is the request's ResponseController, so a route can set its
// own deadlines (Huma does not hand handlers the ResponseWriter).
type routeControl struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newRouteControl(ctx huma.Context) routeControl {
	for {
		u, ok := ctx.(interface{ Unwrap() huma.Context })
		if !ok {
			break
		}
		ctx = u.Unwrap()
	}
	if c, ok := ctx.(interface {
		Unwrap() (*http.Request, http.ResponseWriter)
	}); ok {
		_, w := c.Unwrap()
		return routeControl{w: w, rc: http.NewResponseController(w)}
	}
	return routeControl{}
}

// extend sets the connection's read deadline (unless zero) and write
// deadline, replacing the server's timeouts for this request. The
// connection is closed after the answer: a keep-alive request after it
// would inherit the write deadline, which the server resets only when it
// has a write timeout of its own.
func (c routeControl) extend(ctx context.Context, logger *slog.Logger, read, write time.Time) {
	if c.rc == nil {
		return
	}
	if !read.IsZero() {
		if err := c.rc.SetReadDeadline(read); err != nil {
			logger.WarnContext(ctx, "cannot set the route's read deadline; the server's applies", "err", err)
		}
	}
	if err := c.rc.SetWriteDeadline(write); err != nil {
		logger.WarnContext(ctx, "cannot set the route's write deadline; the server's applies", "err", err)
	}
	c.w.Header().Set("Connection", "close")
}

// boundedStarter checks plugins for an activation by a deadline, leaving
// the rest of the activation's time for the switch.
type boundedStarter struct {
	h        plugins.Starter
	deadline time.Time
}

func (b boundedStarter) Probe(ctx context.Context, key host.Key) (sdk.Description, error) {
	ctx, cancel := context.WithDeadline(ctx, b.deadline)
	defer cancel()
	return b.h.Probe(ctx, key)
}
