package bitscale

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSecret is the webhook secret of the fuzz targets that need a fixed one.
const fuzzSecret = "whsec_5f2d8a91c4e7b3"

// fuzzFixture returns a file of testdata, or nil when it cannot be read, so
// that a missing fixture only loses a seed.
func fuzzFixture(name string) []byte {
	b, _ := os.ReadFile(filepath.Join("testdata", name))
	return b
}

// fuzzMAC is HMAC-SHA256 computed with crypto/hmac directly.
func fuzzMAC(payload []byte, secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(payload)
	return h.Sum(nil)
}

// fuzzHeaderWithin reports whether header is within the bounds
// VerifyWebhookSignature reads: 4 KiB and 8 fields.
func fuzzHeaderWithin(header string) bool {
	return len(header) <= 4096 && len(strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })) <= 8
}

// fuzzHeaderHolds reports whether header is within bounds and one of its
// comma, space or tab separated fields, less an optional "sha256=" prefix,
// decodes as hex or base64 to want. It is the oracle for what
// VerifyWebhookSignature may accept.
func fuzzHeaderHolds(header string, want []byte) bool {
	if !fuzzHeaderWithin(header) {
		return false
	}
	for _, f := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if len(f) > 7 && strings.EqualFold(f[:7], "sha256=") {
			f = f[7:]
		}
		if b, err := hex.DecodeString(f); err == nil && bytes.Equal(b, want) {
			return true
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(f); err == nil && bytes.Equal(b, want) {
				return true
			}
		}
	}
	return false
}

func FuzzVerifyWebhookSignature(f *testing.F) {
	payload := fuzzFixture("webhook_payload.json")
	sum := fuzzMAC(payload, fuzzSecret)
	lower := hex.EncodeToString(sum)
	f.Add(payload, lower, fuzzSecret)
	f.Add(payload, strings.ToUpper(lower), fuzzSecret)
	f.Add(payload, "sha256="+lower, fuzzSecret)
	f.Add(payload, "SHA256="+lower, fuzzSecret)
	f.Add(payload, base64.StdEncoding.EncodeToString(sum), fuzzSecret)
	f.Add(payload, base64.RawURLEncoding.EncodeToString(sum), fuzzSecret)
	f.Add(payload, "v1=deadbeef, "+lower+",,", fuzzSecret)
	f.Add(payload, lower, "")
	f.Add(payload, lower, "wrong")
	f.Add(payload[:len(payload)-1], lower, fuzzSecret)
	f.Add([]byte{}, hex.EncodeToString(fuzzMAC(nil, "k")), "k")
	f.Add([]byte("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "Jefe")
	f.Add([]byte("x"), "sha256=", "k")
	f.Add([]byte("x"), "sha256=sha256="+lower, "k")
	f.Add([]byte("x"), strings.Repeat("0", 64), "k")
	f.Add([]byte("x"), strings.Repeat("A", 43)+"=", "k")
	f.Add([]byte("x"), lower[:63]+"\n", "k")
	f.Add([]byte("x"), "\xff\xfe\x00", "\x00")
	f.Add([]byte("\x00\xff"), strings.Repeat(",", 1000), strings.Repeat("k", 200))

	f.Fuzz(func(t *testing.T, payload []byte, header, secret string) {
		want := fuzzMAC(payload, secret)
		err := VerifyWebhookSignature(payload, header, secret)
		blank := strings.TrimSpace(secret) == ""
		switch {
		case err == nil:
			if blank {
				t.Fatal("accepted a signature under an empty or blank secret")
			}
			if !fuzzHeaderHolds(header, want) {
				t.Fatalf("accepted %q, which holds no HMAC-SHA256 of the payload under the secret", header)
			}
		case errors.Is(err, ErrNoWebhookSecret):
			if !blank {
				t.Fatalf("ErrNoWebhookSecret with a secret: %v", err)
			}
		case errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrMissingSignature), errors.Is(err, ErrMalformedSignature):
			if !blank && fuzzHeaderHolds(header, want) {
				t.Fatalf("refused %q, which holds the signature: %v", header, err)
			}
		default:
			t.Fatalf("undocumented error %v", err)
		}

		// Empty secrets are skipped, and another secret only adds a way to pass.
		if got := VerifyWebhookSignature(payload, header, "", secret); !errors.Is(got, err) {
			t.Fatalf("with an empty secret added: %v, alone: %v", got, err)
		}
		if err == nil {
			if got := VerifyWebhookSignature(payload, header, "rotated-"+secret, secret); got != nil {
				t.Fatalf("a second secret made a valid signature fail: %v", got)
			}
		}

		if blank {
			return
		}
		sig := SignWebhookPayload(payload, secret)
		if sig != hex.EncodeToString(want) {
			t.Fatalf("SignWebhookPayload = %s, want %x", sig, want)
		}
		for _, h := range []string{sig, strings.ToUpper(sig), "sha256=" + sig, base64.StdEncoding.EncodeToString(want), header + "," + sig} {
			if !fuzzHeaderWithin(h) {
				continue // refused unread, as it must be
			}
			if err := VerifyWebhookSignature(payload, h, secret); err != nil {
				t.Fatalf("own signature %q does not verify: %v", h, err)
			}
		}
		if err := VerifyWebhookSignature(append(bytes.Clone(payload), 0), sig, secret); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("signature verified a longer payload: %v", err)
		}
		if err := VerifyWebhookSignature(payload, sig, secret+"x"); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("signature verified under another secret: %v", err)
		}
	})
}

func FuzzParseWebhook(f *testing.F) {
	payload := fuzzFixture("webhook_payload.json")
	f.Add(payload, "", "run_xyz789", true)
	f.Add(payload, "", "", true)
	f.Add(payload, "", "run_other", true)
	f.Add(payload, SignWebhookPayload(payload, fuzzSecret), "", false)
	f.Add(payload, SignWebhookPayload(payload, "other"), "run_xyz789", false)
	f.Add(payload, "garbage", "", false)
	f.Add([]byte(`{"run_id":"run_1","status":"failed","error":"provider timed out"}`), "", "run_1", true)
	f.Add([]byte(`{"run_id":"run_1","status":"failed","error":{"code":504,"detail":"timeout"}}`), "", "", true)
	f.Add([]byte(`{"run_id":"run_1","status":"failed","error":[1]}`), "", "", true)
	f.Add([]byte(`{"run_id":"","status":"completed"}`), "", "", true)
	f.Add([]byte(`{"run_id":"run_1","status":""}`), "", "", true)
	f.Add([]byte(`{"run_id":"run_1","status":"completed","started_at":"yesterday"}`), "", "", true)
	f.Add([]byte(`{"run_id":"run_1","status":"completed","credits":{"consumed":1e400}}`), "", "", true)
	f.Add([]byte(`{"RUN_ID":"run_1","Status":"completed","run_id":"run_2"}`), "", "run_1", true)
	f.Add([]byte(`{"run_id":"run_\u0000","status":"\ud800"}`), "", "", true)
	f.Add([]byte(`[]`), "", "", true)
	f.Add([]byte(`{}`), "", "", true)
	f.Add([]byte(`null`), "", "", true)
	f.Add([]byte(`not json`), "", "", true)
	f.Add([]byte{}, "", "", true)
	f.Add([]byte("{\"run_id\":\"r\",\"status\":\"s\"}\xff"), "", "", true)

	f.Fuzz(func(t *testing.T, body []byte, header, runID string, sign bool) {
		if sign {
			// Signed deliveries get past verification, so that decoding
			// is what is fuzzed.
			header = strings.TrimSpace(header+" "+SignWebhookPayload(body, fuzzSecret)) + ","
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/bitscale", bytes.NewReader(body))
		// Set, not assigned under the name as spelled: Get looks up the
		// canonical form, as a server's parsed request holds it.
		req.Header.Set(SignatureHeader, header)
		if runID != "" {
			req.Header.Set(RunIDHeader, runID)
		}
		run, err := ParseWebhook(req, fuzzSecret)

		// The handler answers the same delivery as ParseWebhook judged it.
		want := http.StatusNoContent
		switch {
		case errors.Is(err, ErrWebhookTooLarge):
			want = http.StatusRequestEntityTooLarge
		case errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrMissingSignature), errors.Is(err, ErrMalformedSignature):
			want = http.StatusUnauthorized
		case err != nil:
			want = http.StatusBadRequest
		}
		var handled []string
		h := WebhookHandler(func(_ context.Context, r *Run) error {
			handled = append(handled, r.ID)
			return nil
		}, WithWebhookSecret(fuzzSecret), WithWebhookDedup(0)) // each input on its own
		req2 := httptest.NewRequest(http.MethodPost, "/webhooks/bitscale", bytes.NewReader(body))
		req2.Header = req.Header
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req2)
		if rec.Code != want {
			t.Fatalf("handler answered %d, want %d (ParseWebhook: %v)", rec.Code, want, err)
		}
		if (err == nil) != (len(handled) == 1) || (err == nil && handled[0] != run.ID) {
			t.Fatalf("fn handled %q; ParseWebhook: %v", handled, err)
		}

		if err != nil {
			if run != nil {
				t.Fatalf("a run returned with the error %v", err)
			}
			documented := false
			for _, e := range []error{ErrInvalidWebhook, ErrInvalidSignature, ErrMissingSignature, ErrMalformedSignature, ErrWebhookTooLarge} {
				documented = documented || errors.Is(err, e)
			}
			if !documented {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if run == nil || run.ID == "" || run.Status == "" {
			t.Fatalf("nil error with run %+v", run)
		}
		if VerifyWebhookSignature(body, header, fuzzSecret) != nil {
			t.Fatalf("accepted a delivery whose signature %q does not verify", header)
		}
		if runID != "" && runID != run.ID {
			t.Fatalf("accepted run %q under %s %q", run.ID, RunIDHeader, runID)
		}
	})
}

func FuzzDecodeErrorEnvelope(f *testing.F) {
	for _, s := range []string{
		string(fuzzFixture("error.json")),
		`{"error":{"code":"GRID_NOT_FOUND","message":"Grid not found","details":{"grid_id":"grid_001"}}}`,
		`{"error":{"code":"RUN_LIMIT_EXCEEDED"}}`,
		`{"error":{"message":"only a message","details":[1,2]}}`,
		`{"error":{"code":429,"message":"numeric code"}}`,
		`{"error":"Unauthorized"}`,
		`{"error":""}`,
		`{"error":null}`,
		`{"error":{}}`,
		`{"error":[]}`,
		`{"ERROR":{"CODE":"X"}}`,
		`{"error":{"code":"A"},"error":"B"}`,
		`{"success":false,"error":{"code":"X","message":"y"}}`,
		`{"message":"Internal Server Error"}`,
		`<html><body><h1>502 Bad Gateway</h1></body></html>`,
		`{"error":{"code":"X","message":"cut off`,
		"{\"error\":\"\xff\xfe\"}",
		"",
		"   \n\t",
		"null",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		eb, ok := decodeErrorEnvelope(body)
		if !ok {
			if eb != nil {
				t.Fatalf("not ok with %+v", eb)
			}
			return
		}
		if eb == nil || (eb.Code == "" && eb.Message == "") {
			t.Fatalf("ok with an empty error %+v", eb)
		}
		if !json.Valid(body) {
			t.Fatalf("ok for a body that is not JSON: %q", body)
		}
		if !utf8.ValidString(eb.Code) || !utf8.ValidString(eb.Message) {
			t.Fatalf("invalid UTF-8 in %+v", eb)
		}
		eb.details() // must not panic

		// The decoded error survives being encoded as the envelope again.
		again, err := json.Marshal(map[string]any{"error": map[string]string{"code": eb.Code, "message": eb.Message}})
		if err != nil {
			t.Fatal(err)
		}
		eb2, ok := decodeErrorEnvelope(again)
		if !ok || eb2.Code != eb.Code || eb2.Message != eb.Message {
			t.Fatalf("round trip: %+v, %v; want %+v", eb2, ok, eb)
		}
	})
}

func FuzzCheckResponse(f *testing.F) {
	html := `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>`
	// declared sends a Content-Length: the body's length plus skew, which
	// is not zero for a body cut short or longer than announced.
	for _, s := range []struct {
		status   int
		body     string
		ctype    string
		declared bool
		skew     int64
	}{
		{200, `{"id":"usr_abc123"}`, "application/json", false, 0},
		{204, ``, "", true, 0},
		{299, `x`, "", false, 0},
		{300, `moved`, "text/plain", false, 0},
		{199, ``, "", false, 0},
		{404, string(fuzzFixture("error.json")), "application/json", true, 0},
		{402, `{"error":{"code":"INSUFFICIENT_CREDITS","message":"Not enough credits","details":{"required":12}}}`, "application/json", true, 0},
		{401, `{"error":"Unauthorized"}`, "application/json", false, 0},
		{429, `{"error":{"code":"RUN_LIMIT_EXCEEDED","message":"quota"}}`, "application/json; charset=utf-8", false, 0},
		{502, html, "text/html", true, 0},
		{502, strings.Repeat(html, 3), "text/html", false, 0},
		{503, strings.Repeat("é", 150), "text/plain", false, 0},
		{500, strings.Repeat("a", 199) + "€€€", "text/plain", false, 0},
		{500, "\xff\xfe\xfd" + strings.Repeat("\x80", 300), "application/octet-stream", false, 0},
		{500, strings.Repeat("\x80", excerptLen+1), "application/octet-stream", false, 0}, // no rune start to cut at
		{500, "line one\r\nline two\n\n\tline three", "text/plain", true, 0},
		{500, `{"error":{"code":"X","message":"cut`, "application/json", true, 1 << 20},
		{500, `{"error":{"code":"X"}}`, "application/json", true, -12},
		{500, `{"error":{}}`, "application/json", true, -100},
		{500, "", "", false, 0},
		{0, "", "", false, 0},
		{-1, "x", "", false, 0},
		{1 << 30, "x", "", false, 0},
	} {
		f.Add(s.status, []byte(s.body), s.ctype, s.declared, s.skew)
	}

	f.Fuzz(func(t *testing.T, status int, body []byte, ctype string, declared bool, skew int64) {
		req, err := http.NewRequest(http.MethodGet, "https://api.bitscale.ai/api/v1/grids/grid_001", nil)
		if err != nil {
			t.Fatal(err)
		}
		length := int64(-1)
		if declared {
			length = int64(len(body)) + skew
		}
		resp := &http.Response{
			StatusCode:    status,
			Header:        http.Header{"Content-Type": {ctype}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: length,
			Request:       req,
		}
		err = CheckResponse(resp)
		if status >= 200 && status <= 299 {
			if err != nil {
				t.Fatalf("status %d: %v", status, err)
			}
			return
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("status %d: %T %v, want *APIError", status, err, err)
		}
		if apiErr.StatusCode != status {
			t.Fatalf("StatusCode %d, want %d", apiErr.StatusCode, status)
		}
		if apiErr.Method != http.MethodGet || apiErr.Path != "/api/v1/grids/grid_001" {
			t.Fatalf("request named %s %s", apiErr.Method, apiErr.Path)
		}
		if !utf8.ValidString(apiErr.Message) {
			t.Fatalf("Message is not valid UTF-8: %q", apiErr.Message)
		}
		_ = apiErr.Error()

		// Past the bound, or with a Content-Length that does not match the
		// body, only the checks above hold.
		if len(body) > maxErrorBody || (declared && skew != 0) {
			return
		}
		if env, ok := decodeErrorEnvelope(body); ok {
			if apiErr.Code != env.Code || apiErr.Message != env.Message {
				t.Fatalf("envelope %+v gave Code %q Message %q", env, apiErr.Code, apiErr.Message)
			}
			return
		}
		if apiErr.Code != "" {
			t.Fatalf("Code %q without an envelope", apiErr.Code)
		}
		if len(apiErr.Message) > excerptLen+len("…") {
			t.Fatalf("excerpt of %d bytes: %q", len(apiErr.Message), apiErr.Message)
		}
		if strings.ContainsAny(apiErr.Message, "\r\n") {
			t.Fatalf("excerpt is not one line: %q", apiErr.Message)
		}
		if len(bytes.TrimSpace(body)) > 0 && apiErr.Message == "" {
			t.Fatalf("no excerpt of %q", body)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2024, 4, 15, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		"", "0", "1", "120", " 30 ", "1.5", "-1", "-0", "+5", "1e9", "1e10", "1e308", "1e-300",
		"Inf", "-Inf", "infinity", "NaN", "nan", " NaN ", "0x10", "1_000", "9223372036854775807", "99999999999999999999",
		"Mon, 15 Apr 2024 12:00:30 GMT", "Mon, 15 Apr 2024 11:59:00 GMT", "Monday, 15-Apr-24 12:01:00 GMT",
		"Mon Apr 15 12:02:00 2024", "Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
		"tomorrow", "\x00", "\xff",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", v, d)
		}
		// Delay seconds, digits only, are taken as given; a sign is not
		// delay seconds.
		digits := strings.TrimSpace(v)
		if n, err := strconv.Atoi(digits); err == nil && n > 0 && n <= 1e9 && digits[0] != '+' {
			if d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, want %ds", v, d, n)
			}
		}
	})
}

func FuzzParseRateLimit(f *testing.F) {
	for _, s := range [][3]string{
		{"100", "99", "1713182400"},
		{"100", "0", "30"},
		{"100", "0", "1713182400.5"},
		{" 100 ", " 7 ", " 60 "},
		{"", "", ""},
		{"-1", "-5", "-30"},
		{"1e3", "0x10", "1e10"},
		{"9223372036854775807", "9223372036854775808", "99999999999"},
		{"abc", "12abc", "Mon, 15 Apr 2024 12:00:30 GMT"},
		{"0", "0", "0"},
		{"100", "50", "NaN"},
		{"100", "50", "Inf"},
		{"100", "50", "1e-320"},
	} {
		f.Add(s[0], s[1], s[2])
	}

	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := http.Header{}
		h.Set("X-RateLimit-Limit", limit)
		h.Set("X-RateLimit-Remaining", remaining)
		h.Set("X-RateLimit-Reset", reset)
		rl := parseRateLimit(h)
		if rl.Limit < 0 || rl.Remaining < 0 {
			t.Fatalf("negative rate limit %+v from %q %q %q", rl, limit, remaining, reset)
		}
		if !rl.Reset.IsZero() && !rl.Reset.After(time.Unix(0, 0)) {
			t.Fatalf("reset %v from %q", rl.Reset, reset)
		}
		if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit"))); err == nil && n >= 0 && rl.Limit != n {
			t.Fatalf("Limit %d from %q", rl.Limit, limit)
		}
		_ = rl.String()
	})
}

func FuzzRunErrorUnmarshal(f *testing.F) {
	for _, s := range []string{
		`"enrichment provider timed out"`,
		`""`,
		`{"code":"PROVIDER_TIMEOUT","message":"timed out"}`,
		`{"code":504,"detail":"gateway timeout"}`,
		`{"code":null,"error":"e","detail":"d","description":"x"}`,
		`{"code":{"nested":[1,2]},"message":7}`,
		`{"code":1e400}`,
		`{}`,
		`null`,
		`[]`,
		`42`,
		`true`,
		`"\ud800"`,
		"\"\xff\"",
		`{"message":"a"`,
		``,
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		var e RunError
		err := e.UnmarshalJSON(b)
		var s string
		if json.Unmarshal(b, &s) == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte(`"`)) {
			if err != nil || e.Message != s || e.Code != "" {
				t.Fatalf("string %q gave %+v, %v", s, e, err)
			}
		}
		if err == nil {
			_ = e.Error()
			if !errors.Is(&e, ErrRunFailed) {
				t.Fatal("a RunError does not match ErrRunFailed")
			}
		}

		// As a run's "error" field, through encoding/json.
		if !json.Valid(b) {
			return
		}
		var run Run
		_ = json.Unmarshal([]byte(`{"run_id":"run_1","status":"failed","error":`+string(b)+`}`), &run)
	})
}
