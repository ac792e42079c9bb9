package pay1st

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

// validMembers is a complete, valid event as raw JSON member values, in
// protocol order; tests override or drop members to break it.
var validMembers = [][2]string{
	{"partnerId", `42`},
	{"partnerCode", `"demo"`},
	{"partnerReference", `"4a662291-2840-4bcd-aae9-553ab24601ed"`},
	{"reference", `"C-1742199052-P"`},
	{"orderAmount", `1234.56`},
	{"currencyCode", `"NGN"`},
	{"countryCode", `"NG"`},
	{"source", `"CHECKOUT"`},
	{"platform", `"WEB"`},
	{"ipAddress", `"203.0.113.7"`},
	{"createdDate", `"2025-03-17T08:10:52.544247646Z"`},
	{"updatedDate", `"2025-03-17T08:11:00Z"`},
	{"status", `"SUCCESSFUL"`},
	{"message", `"Approved"`},
	{"statusCode", `200`},
	{"customerId", `1`},
	{"paymentMethod", `"CARD"`},
	{"taxPercentage", `7.5`},
	{"partnerWebhookUrl", `"https://hub.example/pay1st/staging/demo/payment-events"`},
}

// eventBody renders validMembers with the given raw values replaced (or
// appended, for names not in the table) and the omitted names left out.
func eventBody(set map[string]string, omit ...string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	write := func(name, raw string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`"` + name + `":` + raw)
	}
	seen := map[string]bool{}
	for _, m := range validMembers {
		seen[m[0]] = true
		if contains(omit, m[0]) {
			continue
		}
		if v, ok := set[m[0]]; ok {
			write(m[0], v)
			continue
		}
		write(m[0], m[1])
	}
	for name, v := range set {
		if !seen[name] {
			write(name, v)
		}
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestParsePaymentEventValid(t *testing.T) {
	t.Parallel()
	e, err := ParsePaymentEvent(eventBody(nil))
	require.NoError(t, err)

	require.Equal(t, int64(42), e.PartnerID)
	require.Equal(t, "demo", e.PartnerCode)
	require.Equal(t, "4a662291-2840-4bcd-aae9-553ab24601ed", e.PartnerReference)
	require.Equal(t, "C-1742199052-P", e.Reference)
	require.Equal(t, "1234.56", e.OrderAmount.String())
	require.True(t, e.OrderAmount.Equal(decimal.RequireFromString("1234.56")))
	require.Equal(t, "NGN", e.CurrencyCode)
	require.Equal(t, "NG", e.CountryCode)
	require.Equal(t, "CHECKOUT", e.Source)
	require.Equal(t, "WEB", e.Platform)
	require.Equal(t, "203.0.113.7", e.IPAddress)
	require.Equal(t, time.Date(2025, 3, 17, 8, 10, 52, 544247646, time.UTC), e.CreatedDate)
	require.Equal(t, time.Date(2025, 3, 17, 8, 11, 0, 0, time.UTC), e.UpdatedDate)
	require.Equal(t, StatusSuccessful, e.Status)
	require.Equal(t, "Approved", e.Message)
	require.Equal(t, int64(200), e.StatusCode)
	require.Equal(t, int64(1), e.CustomerID)
	require.Equal(t, "CARD", e.PaymentMethod)
	require.Equal(t, "7.5", e.TaxPercentage.String())
	require.Equal(t, "https://hub.example/pay1st/staging/demo/payment-events", e.PartnerWebhookURL)
	require.NoError(t, e.Validate())
}

func TestParsePaymentEventEachFieldMissing(t *testing.T) {
	t.Parallel()
	require.Len(t, validMembers, 19)
	for _, m := range validMembers {
		t.Run(m[0], func(t *testing.T) {
			t.Parallel()
			_, err := ParsePaymentEvent(eventBody(nil, m[0]))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, m[0], fe.Field)
			require.Equal(t, "is missing", fe.Problem)

			_, err = ParsePaymentEvent(eventBody(map[string]string{m[0]: "null"}))
			require.ErrorAs(t, err, &fe)
			require.Equal(t, m[0], fe.Field)
			require.Equal(t, "must not be null", fe.Problem)
		})
	}
}

func TestParsePaymentEventFirstProblemInFieldOrder(t *testing.T) {
	t.Parallel()
	// Broken in reverse table order; the first in table order wins, however
	// the members are arranged.
	body := eventBody(map[string]string{"taxPercentage": `"x"`, "status": `"NOPE"`}, "currencyCode")
	_, err := ParsePaymentEvent(body)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "currencyCode", fe.Field)
}

func TestParsePaymentEventTable(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 256) // 512 bytes: exactly the limit
	tests := []struct {
		name      string
		body      []byte
		malformed bool   // want ErrMalformed
		field     string // want a *FieldError on this field
		problem   string // a substring of its Problem
		check     func(t *testing.T, e PaymentEvent)
	}{
		// Type errors.
		{name: "string amount", body: eventBody(map[string]string{"orderAmount": `"100"`}), field: "orderAmount", problem: "JSON number, got string"},
		{name: "number partnerCode", body: eventBody(map[string]string{"partnerCode": `7`}), field: "partnerCode", problem: "JSON string, got number"},
		{name: "object status", body: eventBody(map[string]string{"status": `{"v":"SUCCESSFUL"}`}), field: "status", problem: "JSON string, got object"},
		{name: "bool partnerId", body: eventBody(map[string]string{"partnerId": `true`}), field: "partnerId", problem: "JSON number, got boolean"},
		{name: "array date", body: eventBody(map[string]string{"createdDate": `[]`}), field: "createdDate", problem: "JSON string, got array"},
		{name: "string statusCode", body: eventBody(map[string]string{"statusCode": `"200"`}), field: "statusCode", problem: "JSON number"},

		// Strings.
		{name: "unknown status", body: eventBody(map[string]string{"status": `"PAID"`}), field: "status", problem: "not a known status"},
		{name: "lower-case status", body: eventBody(map[string]string{"status": `"successful"`}), field: "status", problem: "not a known status"},
		{name: "empty status", body: eventBody(map[string]string{"status": `""`}), field: "status", problem: "empty"},
		{name: "lower-case currency", body: eventBody(map[string]string{"currencyCode": `"ngn"`}), field: "currencyCode", problem: "upper-case"},
		{name: "4-letter currency", body: eventBody(map[string]string{"currencyCode": `"NGNX"`}), field: "currencyCode", problem: "3 upper-case"},
		{name: "3-letter country", body: eventBody(map[string]string{"countryCode": `"NGA"`}), field: "countryCode", problem: "2 upper-case"},
		{name: "empty partnerCode", body: eventBody(map[string]string{"partnerCode": `""`}), field: "partnerCode", problem: "empty"},
		{name: "empty reference", body: eventBody(map[string]string{"reference": `""`}), field: "reference", problem: "empty"},
		{name: "empty partnerReference", body: eventBody(map[string]string{"partnerReference": `""`}), field: "partnerReference", problem: "empty"},
		{name: "empty message accepted", body: eventBody(map[string]string{"message": `""`}),
			check: func(t *testing.T, e PaymentEvent) { require.Empty(t, e.Message) }},
		{name: "control character in message", body: eventBody(map[string]string{"message": `"line\nbreak"`}), field: "message", problem: "control character U+000A"},
		{name: "escaped NUL in source", body: eventBody(map[string]string{"source": `"a\u0000b"`}), field: "source", problem: "control character"},
		{name: "C1 control in message", body: eventBody(map[string]string{"message": "\"a\u0085b\""}), field: "message", problem: "control character U+0085"},
		{name: "raw control byte in string", body: eventBody(map[string]string{"message": "\"a\tb\""}), malformed: true},
		{name: "512-byte string accepted", body: eventBody(map[string]string{"message": `"` + long + `"`}),
			check: func(t *testing.T, e PaymentEvent) { require.Len(t, e.Message, 512) }},
		{name: "513-byte string", body: eventBody(map[string]string{"message": `"` + long + `x"`}), field: "message", problem: "longer than 512 bytes"},
		{name: "513 bytes once escapes are decoded", body: eventBody(map[string]string{"paymentMethod": `"` + strings.Repeat(`\u00e9`, 256) + `x"`}), field: "paymentMethod", problem: "longer than 512"},
		{name: "invalid UTF-8", body: eventBody(map[string]string{"message": "\"bad \xff byte\""}), field: "message", problem: "not valid UTF-8"},
		{name: "unpaired surrogate escape", body: eventBody(map[string]string{"message": `"\ud800"`}), field: "message", problem: "unpaired surrogate"},
		{name: "surrogate pair escape accepted", body: eventBody(map[string]string{"message": `"\ud83d\ude00 ok \u00e9\/"`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, "😀 ok é/", e.Message) }},

		// Amounts.
		{name: "negative amount", body: eventBody(map[string]string{"orderAmount": `-1`}), field: "orderAmount", problem: "negative"},
		{name: "negative zero amount is zero", body: eventBody(map[string]string{"orderAmount": `-0.0`}),
			check: func(t *testing.T, e PaymentEvent) { require.True(t, e.OrderAmount.IsZero()) }},
		{name: "1e400", body: eventBody(map[string]string{"orderAmount": `1e400`}), field: "orderAmount", problem: "more than 15 integer digits"},
		{name: "huge exponent", body: eventBody(map[string]string{"orderAmount": `1e99999999999999999999999`}), field: "orderAmount", problem: "integer digits"},
		{name: "tiny exponent", body: eventBody(map[string]string{"orderAmount": `1e-99999999999999999999999`}), field: "orderAmount", problem: "fraction digits"},
		{name: "16 integer digits", body: eventBody(map[string]string{"orderAmount": `1234567890123456`}), field: "orderAmount", problem: "more than 15 integer digits"},
		{name: "15 integer digits accepted", body: eventBody(map[string]string{"orderAmount": `999999999999999.99999999`}),
			check: func(t *testing.T, e PaymentEvent) {
				require.Equal(t, "999999999999999.99999999", e.OrderAmount.String())
			}},
		{name: "9 fraction digits", body: eventBody(map[string]string{"orderAmount": `0.123456789`}), field: "orderAmount", problem: "more than 8 fraction digits"},
		{name: "trailing zeros do not count", body: eventBody(map[string]string{"orderAmount": `10.500000000000`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, "10.5", e.OrderAmount.String()) }},
		{name: "exponent within limits accepted", body: eventBody(map[string]string{"orderAmount": `1.5E3`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, "1500", e.OrderAmount.String()) }},
		{name: "NaN is not JSON", body: eventBody(map[string]string{"orderAmount": `NaN`}), malformed: true},
		{name: "leading plus is not JSON", body: eventBody(map[string]string{"orderAmount": `+1`}), malformed: true},
		{name: "tax 100.5", body: eventBody(map[string]string{"taxPercentage": `100.5`}), field: "taxPercentage", problem: "at most 100"},
		{name: "tax 1000", body: eventBody(map[string]string{"taxPercentage": `1000`}), field: "taxPercentage", problem: "at most 100"},
		{name: "tax 100 accepted", body: eventBody(map[string]string{"taxPercentage": `100.000`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, "100", e.TaxPercentage.String()) }},
		{name: "tax 0 accepted", body: eventBody(map[string]string{"taxPercentage": `0`}),
			check: func(t *testing.T, e PaymentEvent) { require.True(t, e.TaxPercentage.IsZero()) }},
		{name: "negative tax", body: eventBody(map[string]string{"taxPercentage": `-0.5`}), field: "taxPercentage", problem: "negative"},

		// Integers.
		{name: "partnerId 0", body: eventBody(map[string]string{"partnerId": `0`}), field: "partnerId", problem: "at least 1"},
		{name: "negative customerId", body: eventBody(map[string]string{"customerId": `-3`}), field: "customerId", problem: "at least 0"},
		{name: "non-integer customerId", body: eventBody(map[string]string{"customerId": `1.5`}), field: "customerId", problem: "integer"},
		{name: "customerId 1.0", body: eventBody(map[string]string{"customerId": `1.0`}), field: "customerId", problem: "integer"},
		{name: "customerId 1e2", body: eventBody(map[string]string{"customerId": `1e2`}), field: "customerId", problem: "integer"},
		{name: "statusCode beyond int64", body: eventBody(map[string]string{"statusCode": `9223372036854775808`}), field: "statusCode", problem: "out of range"},
		{name: "max int64 accepted", body: eventBody(map[string]string{"customerId": `9223372036854775807`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, int64(9223372036854775807), e.CustomerID) }},

		// Dates.
		{name: "zone-less date is UTC", body: eventBody(map[string]string{"createdDate": `"2025-03-17T08:10:52.5"`}),
			check: func(t *testing.T, e PaymentEvent) {
				require.Equal(t, time.Date(2025, 3, 17, 8, 10, 52, 500000000, time.UTC), e.CreatedDate)
			}},
		{name: "offset converted to UTC", body: eventBody(map[string]string{"updatedDate": `"2025-03-17T10:11:00+02:00"`}),
			check: func(t *testing.T, e PaymentEvent) {
				require.Equal(t, time.Date(2025, 3, 17, 8, 11, 0, 0, time.UTC), e.UpdatedDate)
			}},
		{name: "date only", body: eventBody(map[string]string{"createdDate": `"2025-03-17"`}), field: "createdDate", problem: "date-time"},
		{name: "epoch millis", body: eventBody(map[string]string{"createdDate": `1742199052544`}), field: "createdDate", problem: "JSON string"},
		{name: "ten fraction digits", body: eventBody(map[string]string{"updatedDate": `"2025-03-17T08:10:52.1234567890Z"`}), field: "updatedDate", problem: "date-time"},
		{name: "long date", body: eventBody(map[string]string{"createdDate": `"` + strings.Repeat("9", 600) + `"`}), field: "createdDate", problem: "longer than 512"},
		{name: "February 30", body: eventBody(map[string]string{"createdDate": `"2025-02-30T00:00:00Z"`}), field: "createdDate", problem: "out of range"},

		// Whole-body problems.
		{name: "malformed JSON", body: []byte(`{"partnerId": 42,,}`), malformed: true},
		{name: "truncated JSON", body: eventBody(nil)[:100], malformed: true},
		{name: "empty body", body: nil, malformed: true},
		{name: "whitespace body", body: []byte(" \n"), malformed: true},
		{name: "array top level", body: []byte(`[` + string(eventBody(nil)) + `]`), malformed: true},
		{name: "string top level", body: []byte(`"x"`), malformed: true},
		{name: "null top level", body: []byte(`null`), malformed: true},
		{name: "trailing garbage", body: append(eventBody(nil), " x"...), malformed: true},
		{name: "two objects", body: append(eventBody(nil), eventBody(nil)...), malformed: true},
		{name: "trailing comma", body: []byte(strings.TrimSuffix(string(eventBody(nil)), "}") + ",}"), malformed: true},
		{name: "duplicate member", body: []byte(strings.TrimSuffix(string(eventBody(nil)), "}") + `,"status":"FAILED"}`), malformed: true},
		{name: "duplicate via escape", body: eventBody(map[string]string{`st\u0061tus`: `"FAILED"`}), malformed: true},
		{name: "deeply nested unknown field", body: eventBody(map[string]string{"extra": strings.Repeat("[", 10000) + strings.Repeat("]", 10000)}), malformed: true},
		{name: "brackets inside strings do not nest", body: eventBody(map[string]string{"message": `"` + strings.Repeat("[", 400) + `"`}), field: "", check: func(t *testing.T, e PaymentEvent) {
			require.Equal(t, strings.Repeat("[", 400), e.Message)
		}},
		{name: "surrounding whitespace accepted", body: append(append([]byte(" \r\n\t"), eventBody(nil)...), " \n"...),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, "demo", e.PartnerCode) }},
		{name: "unknown extra field accepted", body: eventBody(map[string]string{"futureField": `{"nested":[1,2,{"a":null}]}`, "PartnerId": `"case differs"`}),
			check: func(t *testing.T, e PaymentEvent) { require.Equal(t, int64(42), e.PartnerID) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := ParsePaymentEvent(tc.body)
			switch {
			case tc.malformed:
				require.ErrorIs(t, err, ErrMalformed)
				var fe *FieldError
				require.False(t, errors.As(err, &fe), "malformed must not also be a FieldError")
			case tc.field != "":
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, tc.field, fe.Field)
				require.Contains(t, fe.Problem, tc.problem)
				require.NotErrorIs(t, err, ErrMalformed)
			default:
				require.NoError(t, err)
				require.NoError(t, e.Validate())
				if tc.check != nil {
					tc.check(t, e)
				}
			}
		})
	}
}

func TestPaymentEventMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	e, err := ParsePaymentEvent(eventBody(map[string]string{
		"orderAmount": `0.00000001`, "message": `"<tag> & \"quote\""`,
	}))
	require.NoError(t, err)

	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.Contains(t, string(b), `"orderAmount":0.00000001,`)
	require.Contains(t, string(b), `"taxPercentage":7.5,`)
	require.Contains(t, string(b), `"createdDate":"2025-03-17T08:10:52.544247646Z"`)
	require.True(t, strings.HasPrefix(string(b), `{"partnerId":42,"partnerCode":"demo",`), string(b))

	back, err := ParsePaymentEvent(b)
	require.NoError(t, err)
	require.Equal(t, e, back)

	var viaStd PaymentEvent
	require.NoError(t, json.Unmarshal(b, &viaStd))
	require.Equal(t, e, viaStd)
}

func TestPaymentEventMarshalNormalisesZone(t *testing.T) {
	t.Parallel()
	e, err := ParsePaymentEvent(eventBody(nil))
	require.NoError(t, err)
	e.UpdatedDate = time.Date(2025, 3, 17, 10, 11, 0, 0, time.FixedZone("CAT", 2*3600))
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.Contains(t, string(b), `"updatedDate":"2025-03-17T08:11:00Z"`)
}

func TestPaymentEventUnmarshalValidates(t *testing.T) {
	t.Parallel()
	var holder struct{ Event PaymentEvent }
	err := json.Unmarshal([]byte(`{"Event":`+string(eventBody(map[string]string{"status": `"PAID"`}))+`}`), &holder)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "status", fe.Field)

	require.NoError(t, json.Unmarshal([]byte(`{"Event":null}`), &holder))
	require.Zero(t, holder.Event.PartnerID)
}

func TestPaymentEventValidate(t *testing.T) {
	t.Parallel()
	base, err := ParsePaymentEvent(eventBody(nil))
	require.NoError(t, err)
	tests := []struct {
		name   string
		mutate func(e *PaymentEvent)
		field  string
	}{
		{name: "valid", mutate: func(*PaymentEvent) {}},
		{name: "zero partnerId", mutate: func(e *PaymentEvent) { e.PartnerID = 0 }, field: "partnerId"},
		{name: "zero createdDate", mutate: func(e *PaymentEvent) { e.CreatedDate = time.Time{} }, field: "createdDate"},
		{name: "year 10000 after UTC", mutate: func(e *PaymentEvent) {
			e.UpdatedDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}, field: "updatedDate"},
		{name: "bad status", mutate: func(e *PaymentEvent) { e.Status = "paid" }, field: "status"},
		{name: "amount too precise", mutate: func(e *PaymentEvent) { e.OrderAmount = decimal.New(1, -9) }, field: "orderAmount"},
		{name: "amount trailing zeros fine", mutate: func(e *PaymentEvent) { e.OrderAmount = decimal.New(1000000000, -12) }},
		{name: "huge amount", mutate: func(e *PaymentEvent) { e.OrderAmount = decimal.New(1, 400) }, field: "orderAmount"},
		{name: "zero-value decimal is zero", mutate: func(e *PaymentEvent) { e.TaxPercentage = decimal.Decimal{} }},
		{name: "tax above 100", mutate: func(e *PaymentEvent) { e.TaxPercentage = decimal.RequireFromString("100.00000001") }, field: "taxPercentage"},
		{name: "invalid UTF-8", mutate: func(e *PaymentEvent) { e.Source = "\xff" }, field: "source"},
		{name: "tab", mutate: func(e *PaymentEvent) { e.Platform = "W\tEB" }, field: "platform"},
		{name: "DEL", mutate: func(e *PaymentEvent) { e.IPAddress = "1.2.3.4\x7f" }, field: "ipAddress"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := base
			tc.mutate(&e)
			err := e.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				b, err := json.Marshal(e)
				require.NoError(t, err)
				_, err = ParsePaymentEvent(b)
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&FieldError{Field: "orderAmount", Problem: "must not be negative"})
	require.EqualError(t, err, `pay1st: field "orderAmount" must not be negative`)
}
