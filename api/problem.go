package api

import (
	"context"
	"errors"
	"log/slog"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// problem maps a service error to an RFC 9457 problem. It is the one place
// where package errors become HTTP statuses; anything unknown is logged and
// answered as a 500 whose detail does not leak internals.
func problem(ctx context.Context, logger *slog.Logger, err error) error {
	var fe *tenant.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return huma.Error422UnprocessableEntity("invalid "+fe.Field, &huma.ErrorDetail{
			Location: "body." + fe.Field, Message: fe.Problem,
		})
	case errors.Is(err, tenant.ErrNotFound), errors.Is(err, payment.ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, tenant.ErrConflict):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, tenant.ErrUnauthorized):
		return huma.Error401Unauthorized("invalid API key")
	default:
		logger.ErrorContext(ctx, "management API error", "err", err)
		return huma.Error500InternalServerError("internal error")
	}
}
