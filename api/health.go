package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// HealthHandler serves liveness and readiness probes.
type HealthHandler struct {
	ready func(ctx context.Context) error
}

// HealthOutput is a probe's answer.
type HealthOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok,unavailable" example:"ok" doc:"ok when the probe passes."`
	}
}

// Register adds the probes to api.
func (h *HealthHandler) Register(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-health", Method: http.MethodGet, Path: "/healthz", Tags: []string{"Health"},
		Summary: "Liveness probe", Description: "Answers 200 while the process runs.",
	}, func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-readiness", Method: http.MethodGet, Path: "/readyz", Tags: []string{"Health"},
		Summary: "Readiness probe", Description: "Answers 200 when the database is reachable, 503 otherwise.",
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
		if h.ready != nil {
			if err := h.ready(ctx); err != nil {
				return nil, huma.Error503ServiceUnavailable("database unreachable")
			}
		}
		out := &HealthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
}
