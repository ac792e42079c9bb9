package pay1st_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/partnerhub/partnerhub/pay1st"
)

// Signing an outbound Gateway request: the signature goes in X-SIGNATURE,
// the exact timestamp string that was signed in X-TIMESTAMP. This is the
// protocol's published test vector.
func ExampleSignRequest() {
	signingKey := "hCyO_Flnu6aid-bhFYTYOowkxXRzoZkgzO32rB6Ik8Y"
	timestamp := "2025-03-17T08:10:52.544247646Z"
	body := []byte(`{"countryCode":"NG","currencyCode":"NGN","amount":100,"partnerReference":"4a662291-2840-4bcd-aae9-553ab24601ed","callbackSuccessUrl":"<https://callback.success","callbackFailureUrl":"https://callback.failure","callbackPendingUrl":"https://callback.pending","callbackCancelUrl":"https://callback.cancel","webhookUrl":"https://webhook.success","products":[{"title":"10> Credits","sku":"12345","price":100,"quantity":1,"currencyCode":"NGN"}],"metadata":[{"key":"customerId","value":"1"}]}`)

	req, _ := http.NewRequest(http.MethodPost, "https://pay1st.example/api/pay1st/payments/create", nil)
	req.Header.Set(pay1st.HeaderTimestamp, timestamp)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(signingKey, timestamp, body))

	fmt.Println(req.Header.Get(pay1st.HeaderSignature))
	// Output: 85aa0862aa052f737d3cf4d38f92091ea7c015e782d207ea18cc5641d3e47755
}

// Verifying a Payment Webhook Event in `signature` mode: the timestamp must
// be fresh and the signature must cover it and the raw body.
func ExampleVerifyRequest() {
	signingKey := "tenant-signing-key"
	body := []byte(`{"partnerId":42}`)
	now := time.Date(2025, 3, 17, 8, 12, 0, 0, time.UTC)

	// What Pay1st would send.
	header := http.Header{}
	header.Set(pay1st.HeaderTimestamp, "2025-03-17T08:10:52.544247646Z")
	header.Set(pay1st.HeaderSignature, pay1st.SignRequest(signingKey, header.Get(pay1st.HeaderTimestamp), body))

	// What the endpoint checks.
	ts := header.Get(pay1st.HeaderTimestamp)
	if err := pay1st.CheckTimestamp(ts, now, pay1st.DefaultTimestampWindow); err != nil {
		fmt.Println("reject:", err)
		return
	}
	fmt.Println(pay1st.VerifyRequest(signingKey, ts, body, header.Get(pay1st.HeaderSignature)))
	fmt.Println(pay1st.VerifyRequest(signingKey, ts, []byte(`{"partnerId":43}`), header.Get(pay1st.HeaderSignature)))
	// Output:
	// true
	// false
}

// Verifying a Summary Webhook: the key is derived from the environment's
// Basic Auth credentials, and whitespace around the body is not signed.
// This is the protocol's published test vector.
func ExampleVerifySummary() {
	body := []byte(`{"reference":"C1st_d6213ccf-e838-4c42-9222-4356bb67a7a2","playerId":"12345","productBundleId":1,"amount":1000,"currency":"ZAR","tokensPurchased":11,"digitalCurrency":{"name":"Credits","code":"CRE"},"status":"SUCCESSFUL"}` + "\n")
	signature := "e6ed74ec975440b8653212fafa91e079cbe83af234b541ebfcdeab9dedd1c923"

	fmt.Println(pay1st.SummaryKey("apiuser", "apipassword"))
	fmt.Println(pay1st.VerifySummary("apiuser", "apipassword", body, signature))
	fmt.Println(pay1st.VerifySummary("apiuser", "wrong", body, signature))
	// Output:
	// YXBpdXNlcjphcGlwYXNzd29yZA==
	// true
	// false
}

// Parsing a Payment Webhook Event: amounts stay exact decimals, dates are
// UTC, and unknown members are ignored.
func ExampleParsePaymentEvent() {
	body := []byte(`{
		"partnerId": 42, "partnerCode": "demo", "partnerReference": "order-1001",
		"reference": "C-1742199052-P", "orderAmount": 1234.56,
		"currencyCode": "NGN", "countryCode": "NG", "source": "CHECKOUT",
		"platform": "WEB", "ipAddress": "203.0.113.7",
		"createdDate": "2025-03-17T08:10:52.544247646Z",
		"updatedDate": "2025-03-17T10:11:00+02:00",
		"status": "SUCCESSFUL", "message": "Approved", "statusCode": 200,
		"customerId": 7, "paymentMethod": "CARD", "taxPercentage": 7.5,
		"partnerWebhookUrl": "https://hub.example/pay1st/staging/demo/payment-events",
		"somethingNew": {"ignored": true}
	}`)

	e, err := pay1st.ParsePaymentEvent(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Reference, e.Status, e.OrderAmount, e.CurrencyCode)
	fmt.Println(e.UpdatedDate.Format(time.RFC3339Nano))
	// Output:
	// C-1742199052-P SUCCESSFUL 1234.56 NGN
	// 2025-03-17T08:11:00Z
}

// Telling the two kinds of parse failure apart, to answer Pay1st with the
// right error code.
func ExampleFieldError() {
	for _, body := range []string{
		`{"partnerId": "42"}`,
		`{"partnerId": 42`,
	} {
		_, err := pay1st.ParsePaymentEvent([]byte(body))
		var fe *pay1st.FieldError
		switch {
		case errors.As(err, &fe):
			fmt.Println(pay1st.CodeInvalidField, fe.Field, fe.Problem)
		case errors.Is(err, pay1st.ErrMalformed):
			fmt.Println(pay1st.CodeMalformed)
		}
	}
	// Output:
	// INVALID_FIELD partnerId must be a JSON number, got string
	// MALFORMED_REQUEST
}

// Checking the freshness of an X-TIMESTAMP header.
func ExampleCheckTimestamp() {
	now := time.Date(2025, 3, 17, 8, 10, 52, 0, time.UTC)
	for _, ts := range []string{"2025-03-17T08:12:00Z", "2025-03-17T07:00:00Z", "yesterday"} {
		err := pay1st.CheckTimestamp(ts, now, pay1st.DefaultTimestampWindow)
		fmt.Println(ts, err == nil, errors.Is(err, pay1st.ErrStaleTimestamp), errors.Is(err, pay1st.ErrBadTimestamp))
	}
	// Output:
	// 2025-03-17T08:12:00Z true false false
	// 2025-03-17T07:00:00Z false true false
	// yesterday false false true
}

// Building an event in Go (tests, the simulator): Validate applies the
// parser's rules, and json.Marshal writes the wire format, amounts as exact
// bare numbers.
func ExamplePaymentEvent_MarshalJSON() {
	e := pay1st.PaymentEvent{
		PartnerID:         42,
		PartnerCode:       "demo",
		PartnerReference:  "order-1001",
		Reference:         "C-1742199052-P",
		OrderAmount:       decimal.RequireFromString("0.10"),
		CurrencyCode:      "ZAR",
		CountryCode:       "ZA",
		Source:            "SIMULATOR",
		Platform:          "WEB",
		IPAddress:         "203.0.113.7",
		CreatedDate:       time.Date(2025, 3, 17, 8, 10, 52, 0, time.UTC),
		UpdatedDate:       time.Date(2025, 3, 17, 8, 10, 53, 500000000, time.UTC),
		Status:            pay1st.StatusPending,
		Message:           "",
		StatusCode:        0,
		CustomerID:        7,
		PaymentMethod:     "CARD",
		TaxPercentage:     decimal.RequireFromString("15"),
		PartnerWebhookURL: "https://hub.example/pay1st/staging/demo/payment-events",
	}
	if err := e.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	body, _ := json.Marshal(e)
	fmt.Println(string(body))

	back, err := pay1st.ParsePaymentEvent(body)
	fmt.Println(err, back.OrderAmount.Equal(e.OrderAmount))
	// Output:
	// {"partnerId":42,"partnerCode":"demo","partnerReference":"order-1001","reference":"C-1742199052-P","orderAmount":0.1,"currencyCode":"ZAR","countryCode":"ZA","source":"SIMULATOR","platform":"WEB","ipAddress":"203.0.113.7","createdDate":"2025-03-17T08:10:52Z","updatedDate":"2025-03-17T08:10:53.5Z","status":"PENDING","message":"","statusCode":0,"customerId":7,"paymentMethod":"CARD","taxPercentage":15,"partnerWebhookUrl":"https://hub.example/pay1st/staging/demo/payment-events"}
	// <nil> true
}
