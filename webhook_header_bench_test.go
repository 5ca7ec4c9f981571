package bitscale_test

import (
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
)

// BenchmarkVerifyWebhookSignatureHugeHeader measures what an
// unauthenticated sender can make a receiver spend with a 1 MB signature
// header, the most net/http lets through by default, and with the largest
// header the SDK reads.
func BenchmarkVerifyWebhookSignatureHugeHeader(b *testing.B) {
	payload := []byte(`{"run_id":"run_1","status":"completed"}`)
	for _, tc := range []struct{ name, header string }{
		{"commas", strings.Repeat(",", 1<<20)},
		{"fields", strings.Repeat("a,", 1<<19)},
		{"digests", strings.Repeat(strings.Repeat("0", 64)+",", (1<<20)/65)},
		// The most work a header within the bounds can ask for.
		{"bounds", strings.Repeat(strings.Repeat("a", 511)+",", 8)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				bitscale.VerifyWebhookSignature(payload, tc.header, "whsec_bench")
			}
		})
	}
}
