package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/client"
)

func TestTimelineLines(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 17, 8, 11, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	atp := func(s int) *time.Time { v := at(s); return &v }
	str := func(s string) *string { return &s }
	base := func() *client.PaymentTimeline {
		return &client.PaymentTimeline{Reference: "C-1-P", PartnerReference: "order-1", Status: "SUCCESSFUL", Amount: "100.50",
			CurrencyCode: "NGN", CountryCode: "NG", CustomerId: 77, PaymentMethod: "CARD", CreatedAt: at(0)}
	}
	tests := []struct {
		name   string
		p      func() *client.PaymentTimeline
		events []client.TimelineEvent
		want   []string // "+seconds what text"
	}{
		{
			name: "only heard of",
			p:    base,
			want: []string{"0 payment first heard of: 100.50 NGN, customer 77, CARD, partner reference order-1"},
		},
		{
			name: "requests, events, a fulfilment retried by hand, the report",
			p: func() *client.PaymentTimeline {
				p := base()
				p.Deliveries = &[]client.PaymentDelivery{
					{Id: 11, Kind: "payment_event", Verdict: "accepted", StatusCode: 200, ReceivedAt: at(0)},
					{Id: 12, Kind: "payment_event", Verdict: "accepted", StatusCode: 200, ReceivedAt: at(5)},
					{Id: 13, Kind: "payment_event", Verdict: "duplicate", StatusCode: 200, ReceivedAt: at(6), Reason: str("event already recorded")},
				}
				p.Fulfilments = &[]client.PaymentFulfilment{{Kind: "fulfil", State: "succeeded", Attempts: 2,
					ResultReference: str("wallet-ab"), SucceededAt: atp(40),
					History: &[]client.PaymentAttempt{
						{Number: 1, StartedAt: at(7), FinishedAt: atp(8), Outcome: "failed", Reason: str("rejected by plugin: no player"), PluginId: ptr(int64(3))},
						{Number: 2, StartedAt: at(39), FinishedAt: atp(40), Outcome: "succeeded", PluginId: ptr(int64(3))},
					}}}
				p.Report = &client.PaymentReport{State: "succeeded", Attempts: 1, FulfilledAt: at(40), ReportedAt: atp(41),
					Products: &[]client.ReportedProduct{{Sku: "gems-100", Quantity: 2}}}
				return p
			},
			events: []client.TimelineEvent{
				{Status: "SUCCESSFUL", UpdatedDate: at(4), Applied: true, DeliveryId: ptr(int64(12)), ReceivedAt: at(5)},
				{Status: "PENDING", UpdatedDate: at(-1), Applied: true, DeliveryId: ptr(int64(11)), ReceivedAt: at(0)},
			},
			want: []string{
				"0 payment first heard of: 100.50 NGN, customer 77, CARD, partner reference order-1",
				"0 request #11 payment_event accepted, answered 200",
				"0 event PENDING (updated 2026-03-17 08:10:59Z) applied [request #11]",
				"5 request #12 payment_event accepted, answered 200",
				"5 event SUCCESSFUL (updated 2026-03-17 08:11:04Z) applied [request #12]",
				"6 request #13 payment_event duplicate, answered 200: event already recorded",
				"7 fulfil attempt 1 started (plugin 3)",
				"8 fulfil attempt 1 failed: rejected by plugin: no player",
				"39 fulfil attempt 2 started (plugin 3)",
				"40 fulfil attempt 2 succeeded",
				"40 fulfil succeeded, the plugin's reference wallet-ab",
				"40 report the game was credited: to be reported to Pay1st",
				"41 report accepted by Pay1st after 1 attempt(s): gems-100 x2",
			},
		},
		{
			name: "a stale and a flagged event, a hold, a running attempt",
			p: func() *client.PaymentTimeline {
				p := base()
				p.OnHold, p.HeldAt, p.HoldReason = true, atp(2), str("amount 99 differs")
				p.Fulfilments = &[]client.PaymentFulfilment{{Kind: "reverse", State: "pending", Attempts: 1,
					History: &[]client.PaymentAttempt{{Number: 1, StartedAt: at(9), Outcome: "running"}}}}
				return p
			},
			events: []client.TimelineEvent{
				{Status: "PENDING", UpdatedDate: at(-5), ReceivedAt: at(3)},
				{Status: "PENDING", UpdatedDate: at(8), Flagged: true, FlagReason: str("transition SUCCESSFUL -> PENDING is not allowed"), ReceivedAt: at(8)},
			},
			want: []string{
				"0 payment first heard of: 100.50 NGN, customer 77, CARD, partner reference order-1",
				"2 hold held for review: amount 99 differs",
				"3 event PENDING (updated 2026-03-17 08:10:55Z) not applied: older than the status",
				"8 event PENDING (updated 2026-03-17 08:11:08Z) flagged, not applied: transition SUCCESSFUL -> PENDING is not allowed",
				"9 reverse attempt 1 started",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			p := tt.p()
			if tt.events != nil {
				p.Events = &tt.events
			}
			for _, l := range timelineLines(p) {
				got = append(got, fmtLine(l, t0))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func fmtLine(l timelineLine, t0 time.Time) string {
	return fmt.Sprintf("%d %s %s", int(l.At.Sub(t0)/time.Second), l.What, l.Text)
}

// The generated client decodes every field of a timeline event (the schema
// once had two PaymentEvent types, and the webhook's won, dropping these).
func TestTimelineEventsDecoded(t *testing.T) {
	t.Parallel()
	raw := `{"reference":"C-1-P","events":[{"status":"SUCCESSFUL","updatedDate":"2026-03-17T08:11:04Z","applied":false,` +
		`"flagged":true,"flagReason":"no","deliveryId":12,"receivedAt":"2026-03-17T08:11:05Z"}]}`
	resp, err := client.ParseGetPaymentResponse(&http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(raw))})
	require.NoError(t, err)
	require.NotNil(t, resp.JSON200)
	require.NotNil(t, resp.JSON200.Events)
	require.Equal(t, []client.TimelineEvent{{Status: "SUCCESSFUL", UpdatedDate: time.Date(2026, 3, 17, 8, 11, 4, 0, time.UTC),
		Flagged: true, FlagReason: ptr("no"), DeliveryId: ptr(int64(12)), ReceivedAt: time.Date(2026, 3, 17, 8, 11, 5, 0, time.UTC)}}, *resp.JSON200.Events)
}

func TestWriteTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 17, 8, 11, 0, 0, time.UTC)
	p := &client.PaymentTimeline{Reference: "C-1-P", Status: "SUCCESSFUL", StatusUpdatedAt: t0, Amount: "1", CurrencyCode: "NGN",
		CreatedAt: t0, Truncated: true,
		Fulfilments: &[]client.PaymentFulfilment{{Kind: "fulfil", State: "failed", Attempts: 3, LastError: ptr("rejected by plugin: banned")}}}
	var out bytes.Buffer
	require.NoError(t, writeTimeline(&out, p, timelineLines(p)))
	s := out.String()
	require.Contains(t, s, "fulfil             failed after 3 attempt(s): rejected by plugin: banned\n")
	require.Contains(t, s, "timeline (UTC):\n  2026-03-17 08:11:00.000  payment  first heard of")
	require.Contains(t, s, "only the newest are shown")
}
