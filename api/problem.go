package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/stagingtest"
	"github.com/partnerhub/partnerhub/tenant"
)

// problem maps a service error to an RFC 9457 problem. It is the one place
// where package errors become HTTP statuses; anything unknown is logged and
// answered as a 500 whose detail does not leak internals.
func problem(ctx context.Context, logger *slog.Logger, err error) error {
	var fe *tenant.FieldError
	var pfe *plugins.FieldError
	var pae *plugins.ActivationError
	var pbe *plugins.BodyReadError
	var p1e *pay1st.APIError
	var retry *payment.RetryLaterError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		in := fe.In
		if in == "" {
			in = "body"
		}
		return huma.Error422UnprocessableEntity("invalid "+fe.Field, &huma.ErrorDetail{
			Location: in + "." + fe.Field, Message: fe.Problem,
		})
	case errors.Is(err, tenant.ErrNotFound), errors.Is(err, payment.ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, tenant.ErrConflict), errors.Is(err, tenant.ErrLastOperatorKey), errors.Is(err, tenant.ErrKeyLimit):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, payment.ErrNotRetryable):
		// The detail says why: not failed, or the payment moved on.
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, payment.ErrReportNotRetryable):
		// The detail says why: pending, succeeded, or its job still finishing.
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, tenant.ErrInUse):
		// The detail names what still uses it (bundles, payments).
		return huma.Error409Conflict(err.Error())
	case errors.As(err, &pfe):
		return huma.Error422UnprocessableEntity("invalid "+pfe.Field, &huma.ErrorDetail{
			Location: pfe.In + "." + pfe.Field, Message: pfe.Problem,
		})
	case errors.As(err, &pae):
		// Why the plugin was not started or was refused: the tenant's to fix.
		// Detail never carries a setting's value.
		return huma.Error422UnprocessableEntity("plugin not activated ("+pae.Reason+"): "+pae.Detail, &huma.ErrorDetail{
			Location: "plugin", Message: pae.Reason,
		})
	case errors.Is(err, plugins.ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, plugins.ErrNoActivePlugin):
		return huma.Error404NotFound("this environment has no active plugin")
	case errors.Is(err, plugins.ErrConflict):
		return huma.Error409Conflict("this name and version were uploaded with other bytes: upload a new version")
	case errors.Is(err, plugins.ErrInUse):
		// The detail names the environments it is active in.
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, plugins.ErrTooLarge):
		return huma.Error413RequestEntityTooLarge(err.Error())
	case errors.Is(err, plugins.ErrQuota):
		// The detail says which limit and what the tenant keeps.
		return huma.Error409Conflict(err.Error())
	case errors.As(err, &pbe) && pbe.Timeout:
		// The client sent too slowly for the upload's deadline.
		return huma.NewError(http.StatusRequestTimeout, err.Error())
	case errors.As(err, &pbe):
		return huma.Error400BadRequest(err.Error())
	case errors.Is(err, tenant.ErrUnauthorized):
		return huma.Error401Unauthorized("invalid API key")
	case errors.Is(err, stagingtest.ErrStagingOnly):
		return huma.Error422UnprocessableEntity("test transactions run in staging only")
	case errors.Is(err, tenant.ErrForbidden):
		return huma.Error403Forbidden("this API key may not do that: writes need an admin key of the tenant or an operator key")
	case errors.As(err, &retry):
		// An order another request holds, or Pay1st rate limiting: the
		// same request, later (the detail says which).
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(err.Error()),
			http.Header{"Retry-After": {strconv.FormatInt(int64(max(retry.After.Round(time.Second)/time.Second, 1)), 10)}})
	case errors.Is(err, payment.ErrOrderConflict), errors.Is(err, payment.ErrOrderUnknown), errors.Is(err, payment.ErrOrderFlagged):
		// The detail says which: another body, an outcome left unknown
		// (use a new partnerReference), or an order for an operator.
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, tenant.ErrCredentialsMissing):
		// The detail names the missing credentials, never a value.
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, pay1st.ErrNoGateway), errors.Is(err, payment.ErrOrdersDisabled):
		return huma.Error503ServiceUnavailable("no Pay1st gateway is configured for this environment (PARTNERHUB_PAY1ST_*_URL)")
	case errors.As(err, &p1e) && p1e.Status == http.StatusBadRequest:
		// Pay1st's own words (secrets redacted by the client).
		return huma.Error422UnprocessableEntity("Pay1st refused the request: " + err.Error())
	case errors.As(err, &p1e) && p1e.Status < 500:
		return huma.Error502BadGateway("Pay1st refused the request: " + err.Error())
	case errors.Is(err, pay1st.ErrUnavailable) && errors.Is(err, context.DeadlineExceeded):
		return huma.Error504GatewayTimeout("Pay1st did not answer in time; repeat the same request: " + err.Error())
	case errors.Is(err, pay1st.ErrUnavailable), errors.Is(err, pay1st.ErrBadResponse), errors.Is(err, pay1st.ErrResponseTooLarge):
		return huma.Error502BadGateway("Pay1st is unavailable or answered unexpectedly; repeat the same request: " + err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		// A route's own deadline (plugin upload, activation) passed while it
		// wrote: it may have taken effect or not.
		logger.WarnContext(ctx, "management API deadline passed", "err", err)
		return huma.Error504GatewayTimeout("the request did not finish in time; it may or may not have taken effect: read the resource to check")
	default:
		logger.ErrorContext(ctx, "management API error", "err", err)
		return huma.Error500InternalServerError("internal error")
	}
}
