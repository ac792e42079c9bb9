package api

import (
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/pay1st"
)

// documentWebhooks describes the Pay1st-facing endpoints in the OpenAPI
// document. They are served by plain handlers (see WebhookHandler), so their
// schemas are written here from the wire contract.
func documentWebhooks(oapi *huma.OpenAPI) {
	reg := oapi.Components.Schemas
	ackRef := reg.Schema(reflect.TypeFor[Ack](), true, "")
	errRef := reg.Schema(reflect.TypeFor[pay1st.ErrorBody](), true, "")
	reg.Map()["PaymentEvent"] = paymentEventSchema()

	pay1stError := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: errRef}}}
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "receive-payment-event", Method: http.MethodPost, Path: "/pay1st/{env}/{partnerCode}/payment-events",
		Tags:    []string{"Pay1st webhooks"},
		Summary: "Receive a Payment Webhook Event",
		Description: "Called by Pay1st, not by clients. Authenticates the caller per the environment's auth mode: signature " +
			"(default) verifies X-SIGNATURE (lowercase hex HMAC-SHA256 of X-TIMESTAMP + raw body with the environment's Signing Key, " +
			"or the replaced key during its rotation grace period; X-TIMESTAMP within the configured window); token compares the " +
			"token query parameter with the environment's webhook token; none (staging only) accepts any caller. An IP allow-list, " +
			"when configured, is checked first against the TCP peer address. Then validates the event, and records it durably " +
			"before answering 2xx. A repeated event is answered 200 with status duplicate and changes nothing. " +
			"Errors use Pay1st's error body, not problem+json.",
		Parameters: []*huma.Param{
			{Name: "env", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Enum: []any{"staging", "production"}}},
			{Name: "partnerCode", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Pattern: "^[a-z0-9][a-z0-9_-]{1,63}$"}},
			{Name: pay1st.HeaderSignature, In: "header", Description: "Required in signature mode.", Schema: &huma.Schema{Type: "string", Pattern: "^[0-9a-fA-F]{64}$"}},
			{Name: pay1st.HeaderTimestamp, In: "header", Description: "Required in signature mode.", Schema: &huma.Schema{Type: "string", Format: "date-time"}},
			{Name: "token", In: "query", Description: "Required in token mode: the environment's webhook token. Never recorded or logged.", Schema: &huma.Schema{Type: "string"}},
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/PaymentEvent"}},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Recorded (or already recorded).", Content: map[string]*huma.MediaType{"application/json": {Schema: ackRef}}},
			"400": pay1stError("Malformed JSON."),
			"401": pay1stError("Missing or wrong signature or token, or timestamp outside the window."),
			"403": pay1stError("The caller's address is not in the environment's IP allow-list."),
			"404": pay1stError("Unknown partnerCode or environment."),
			"413": pay1stError("Body larger than the configured limit."),
			"422": pay1stError("A field is missing or invalid, or partnerCode/partnerId are not this tenant's."),
			"503": pay1stError("Tenant suspended or partnerhub temporarily unable to record; Pay1st should retry."),
		},
	})
}

// paymentEventSchema is pay1st-protocol.md §1 as JSON Schema. Amounts are
// JSON numbers on the wire; partnerhub reads them as exact decimals.
func paymentEventSchema() *huma.Schema {
	str := func(desc string) *huma.Schema {
		return &huma.Schema{Type: "string", MaxLength: ptr(pay1st.MaxStringBytes), Description: desc}
	}
	integer := func(desc string, min float64) *huma.Schema {
		return &huma.Schema{Type: "integer", Format: "int64", Minimum: &min, Description: desc}
	}
	statuses := make([]any, 0, len(pay1st.Statuses()))
	for _, s := range pay1st.Statuses() {
		statuses = append(statuses, string(s))
	}
	zero, hundred := 0.0, 100.0
	props := map[string]*huma.Schema{
		"partnerId":         integer("The partner's numeric id; must be the tenant's.", 1),
		"partnerCode":       str("The partner's code; must be the tenant's."),
		"partnerReference":  str("The partner's own order reference."),
		"reference":         str("Pay1st's payment reference: the payment's identity."),
		"orderAmount":       {Type: "number", Minimum: &zero, Description: "Amount in major units, read as an exact decimal (at most 15 integer and 8 fraction digits)."},
		"currencyCode":      {Type: "string", Pattern: "^[A-Z]{3}$", Description: "ISO 4217."},
		"countryCode":       {Type: "string", Pattern: "^[A-Z]{2}$", Description: "ISO 3166-1 alpha-2."},
		"source":            str("Originating source."),
		"platform":          str("Device platform, WEB."),
		"ipAddress":         str("Customer IP address."),
		"createdDate":       {Type: "string", Format: "date-time", Description: "ISO-8601."},
		"updatedDate":       {Type: "string", Format: "date-time", Description: "ISO-8601; orders the events of one payment."},
		"status":            {Type: "string", Enum: statuses},
		"message":           str("PSP response message."),
		"statusCode":        integer("Status code.", 0),
		"customerId":        integer("Customer identifier.", 0),
		"paymentMethod":     str("Payment method."),
		"taxPercentage":     {Type: "number", Minimum: &zero, Maximum: &hundred, Description: "Tax share in percent, exact decimal."},
		"partnerWebhookUrl": str("The URL the event was sent to."),
	}
	required := []string{"partnerId", "partnerCode", "partnerReference", "reference", "orderAmount", "currencyCode",
		"countryCode", "source", "platform", "ipAddress", "createdDate", "updatedDate", "status", "message",
		"statusCode", "customerId", "paymentMethod", "taxPercentage", "partnerWebhookUrl"}
	return &huma.Schema{
		Type: "object", Description: "A Pay1st Payment Webhook Event. Every field is mandatory; unknown fields are accepted and kept.",
		Properties: props, Required: required,
	}
}

func ptr[T any](v T) *T { return &v }
