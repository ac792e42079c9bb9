package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/partnerhub/partnerhub/pay1st"
)

// ControlPrefix is where the simulator's own control endpoints live, beside
// the Gateway API, so a developer running `partnerhub sim` can drive
// payments with curl. They are unauthenticated: the simulator is a test
// tool; bind it to localhost. They are not in the request log.
//
//	POST /_sim/payments/{reference}/{action}   pay, fail, refund, chargeback, redeliver
//	     ?duplicate=true&outOfOrder=true&lose=true
//	GET  /_sim/payments/{reference}             the payment, its history and fulfilments
//	GET  /_sim/webhooks                         the webhook log
const ControlPrefix = "/_sim/"

func (s *Simulator) control() {
	s.mux.HandleFunc("POST "+ControlPrefix+"payments/{reference}/{action}", s.controlAction)
	s.mux.HandleFunc("GET "+ControlPrefix+"payments/{reference}", s.controlPayment)
	s.mux.HandleFunc("GET "+ControlPrefix+"webhooks", func(w http.ResponseWriter, _ *http.Request) {
		hooks := s.Webhooks()
		out := make([]controlWebhook, len(hooks))
		for i, h := range hooks {
			out[i] = controlWebhook{Time: h.Time, Kind: h.Kind, PartnerCode: h.PartnerCode, Reference: h.Reference,
				Status: h.Status, URL: h.URL, Lost: h.Lost, ResponseStatus: h.ResponseStatus, Err: h.Err}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

type controlWebhook struct {
	Time           time.Time     `json:"time"`
	Kind           string        `json:"kind"`
	PartnerCode    string        `json:"partnerCode"`
	Reference      string        `json:"reference"`
	Status         pay1st.Status `json:"status"`
	URL            string        `json:"url"`
	Lost           bool          `json:"lost,omitempty"`
	ResponseStatus int           `json:"responseStatus"`
	Err            string        `json:"error,omitempty"`
}

func (s *Simulator) controlAction(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("reference")
	q := r.URL.Query()
	var opts []Option
	for name, opt := range map[string]Option{"duplicate": Duplicate(), "outOfOrder": OutOfOrder(), "lose": Lose()} {
		if on, _ := strconv.ParseBool(q.Get(name)); on {
			opts = append(opts, opt)
		}
	}
	var err error
	switch r.PathValue("action") {
	case "pay":
		err = s.Pay(r.Context(), ref, opts...)
	case "fail":
		err = s.Fail(r.Context(), ref, opts...)
	case "refund":
		err = s.Refund(r.Context(), ref, opts...)
	case "chargeback":
		err = s.Chargeback(r.Context(), ref, opts...)
	case "redeliver":
		err = s.Redeliver(r.Context(), ref)
	default:
		writeJSON(w, http.StatusNotFound, pay1st.ErrorBody{ErrorCode: CodeNotFound,
			ErrorMessage: "action must be pay, fail, refund, chargeback or redeliver"})
		return
	}
	switch {
	case errors.Is(err, ErrUnknownPayment):
		writeJSON(w, http.StatusNotFound, pay1st.ErrorBody{ErrorCode: CodeNotFound, ErrorMessage: err.Error()})
		return
	case errors.Is(err, ErrInvalidTransition):
		writeJSON(w, http.StatusConflict, pay1st.ErrorBody{ErrorCode: CodeBadRequest, ErrorMessage: err.Error()})
		return
	}
	// The status changed; webhook failures are reported beside the payment.
	p, _ := s.Payment(ref)
	out := map[string]any{"reference": p.Reference, "status": p.Status}
	if err != nil {
		out["webhookError"] = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Simulator) controlPayment(w http.ResponseWriter, r *http.Request) {
	p, ok := s.Payment(r.PathValue("reference"))
	if !ok {
		writeJSON(w, http.StatusNotFound, pay1st.ErrorBody{ErrorCode: CodeNotFound, ErrorMessage: "no such payment"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"reference": p.Reference, "partnerReference": p.PartnerReference, "partnerCode": p.PartnerCode,
		"amount": json.Number(p.Amount.String()), "currencyCode": p.CurrencyCode, "status": p.Status,
		"history": p.History, "fulfilments": p.Fulfilments, "products": p.Products,
	})
}
