package bitscale_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// webhookSecret is the secret the webhook tests sign deliveries with.
const webhookSecret = "whsec_5f2d8a91c4e7b3"

// webhookMAC computes the HMAC-SHA256 of payload under secret with
// crypto/hmac directly, so that the SDK's signing is checked against an
// independent computation rather than against itself.
func webhookMAC(payload []byte, secret string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(payload)
	return h.Sum(nil)
}

// runJSON is a minimal webhook payload for the run id with status.
func runJSON(id, status string) []byte {
	return []byte(fmt.Sprintf(`{"run_id":%q,"grid_id":"grid_001","status":%q}`, id, status))
}

// delivery builds a webhook POST as BitScale sends it. An empty sig or runID
// leaves that header out.
func delivery(body []byte, sig, runID string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/bitscale", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if sig != "" {
		r.Header.Set(bitscale.SignatureHeader, sig)
	}
	if runID != "" {
		r.Header.Set(bitscale.RunIDHeader, runID)
	}
	return r
}

func TestSignWebhookPayloadKnownVectors(t *testing.T) {
	t.Parallel()
	// RFC 4231, test case 2.
	assert.Equal(t,
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		bitscale.SignWebhookPayload([]byte("what do ya want for nothing?"), "Jefe"))

	payload := fixture(t, "webhook_payload.json")
	want := hex.EncodeToString(webhookMAC(payload, webhookSecret))
	got := bitscale.SignWebhookPayload(payload, webhookSecret)
	assert.Equal(t, want, got)
	assert.Equal(t, strings.ToLower(got), got, "the signature is lowercase hex")

	// The signature covers the raw bytes: the same JSON compacted differs.
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, payload))
	assert.NotEqual(t, got, bitscale.SignWebhookPayload(compact.Bytes(), webhookSecret))
	assert.NotEqual(t, got, bitscale.SignWebhookPayload(payload, webhookSecret+"x"))
}

func TestVerifyWebhookSignature(t *testing.T) {
	t.Parallel()
	payload := fixture(t, "webhook_payload.json")
	sum := webhookMAC(payload, webhookSecret)
	lower := hex.EncodeToString(sum)
	other := hex.EncodeToString(webhookMAC(payload, "another secret"))

	tampered := bytes.Clone(payload)
	i := bytes.Index(tampered, []byte("12"))
	require.Positive(t, i)
	tampered[i] = '9' // credits consumed 12 -> 92

	cases := []struct {
		name    string
		payload []byte
		header  string
		secrets []string
		want    error
	}{
		{"lowercase hex", payload, lower, []string{webhookSecret}, nil},
		{"uppercase hex", payload, strings.ToUpper(lower), []string{webhookSecret}, nil},
		{"sha256= prefix", payload, "sha256=" + lower, []string{webhookSecret}, nil},
		{"SHA256= prefix", payload, "SHA256=" + lower, []string{webhookSecret}, nil},
		{"Sha256= prefix, uppercase hex", payload, "Sha256=" + strings.ToUpper(lower), []string{webhookSecret}, nil},
		{"std base64", payload, base64.StdEncoding.EncodeToString(sum), []string{webhookSecret}, nil},
		{"std base64 unpadded", payload, base64.RawStdEncoding.EncodeToString(sum), []string{webhookSecret}, nil},
		{"URL base64", payload, base64.URLEncoding.EncodeToString(sum), []string{webhookSecret}, nil},
		{"URL base64 unpadded", payload, base64.RawURLEncoding.EncodeToString(sum), []string{webhookSecret}, nil},
		{"base64 with prefix", payload, "sha256=" + base64.StdEncoding.EncodeToString(sum), []string{webhookSecret}, nil},
		{"several, comma separated, match last", payload, other + "," + lower, []string{webhookSecret}, nil},
		{"several, comma and space, match first", payload, lower + ", " + other, []string{webhookSecret}, nil},
		{"several, space separated", payload, other + " sha256=" + lower, []string{webhookSecret}, nil},
		{"several, with garbage among them", payload, "v1=abc, " + lower + ",,", []string{webhookSecret}, nil},
		{"eight signatures, the most allowed", payload, strings.Repeat("x,", 7) + lower, []string{webhookSecret}, nil},
		{"4 KiB, the most allowed", payload, strings.Repeat(" ", 4096-len(lower)) + lower, []string{webhookSecret}, nil},
		{"blank secret skipped", payload, lower, []string{"  ", webhookSecret}, nil},
		{"surrounding blanks", payload, "  " + lower + "\t", []string{webhookSecret}, nil},
		{"rotation: signed with old", payload, hex.EncodeToString(webhookMAC(payload, "old")), []string{"old", "new"}, nil},
		{"rotation: signed with new", payload, hex.EncodeToString(webhookMAC(payload, "new")), []string{"old", "new"}, nil},
		{"empty secret skipped", payload, lower, []string{"", webhookSecret}, nil},

		{"tampered payload", tampered, lower, []string{webhookSecret}, bitscale.ErrInvalidSignature},
		{"wrong secret", payload, lower, []string{"not the secret"}, bitscale.ErrInvalidSignature},
		{"rotation: signed with neither", payload, lower, []string{"old", "new"}, bitscale.ErrInvalidSignature},
		{"several, none matches", payload, other + "," + other, []string{webhookSecret}, bitscale.ErrInvalidSignature},
		{"signature truncated by one byte", payload, lower[:62], []string{webhookSecret}, bitscale.ErrMalformedSignature},
		{"empty payload", nil, lower, []string{webhookSecret}, bitscale.ErrInvalidSignature},

		{"empty header", payload, "", []string{webhookSecret}, bitscale.ErrMissingSignature},
		{"blank header", payload, " , ,\t", []string{webhookSecret}, bitscale.ErrMissingSignature},
		{"garbage header", payload, "not a signature", []string{webhookSecret}, bitscale.ErrMalformedSignature},
		{"prefix only", payload, "sha256=", []string{webhookSecret}, bitscale.ErrMalformedSignature},
		{"digest of another size", payload, hex.EncodeToString(sum[:20]), []string{webhookSecret}, bitscale.ErrMalformedSignature},
		{"over 4 KiB, digest first", payload, lower + strings.Repeat(" ", 4096), []string{webhookSecret}, bitscale.ErrMalformedSignature},
		{"nine signatures, digest first", payload, lower + strings.Repeat(",x", 8), []string{webhookSecret}, bitscale.ErrMalformedSignature},

		{"no secrets", payload, lower, nil, bitscale.ErrNoWebhookSecret},
		{"only empty secrets", payload, lower, []string{"", ""}, bitscale.ErrNoWebhookSecret},
		{"only blank secrets", payload, hex.EncodeToString(webhookMAC(payload, " ")), []string{" ", "\t\n"}, bitscale.ErrNoWebhookSecret},
		{"no secrets, no signature", payload, "", nil, bitscale.ErrNoWebhookSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := bitscale.VerifyWebhookSignature(tc.payload, tc.header, tc.secrets...)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.want)
			for _, other := range []error{bitscale.ErrNoWebhookSecret, bitscale.ErrMissingSignature, bitscale.ErrMalformedSignature, bitscale.ErrInvalidSignature} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other, "one cause, told apart from the others")
				}
			}
		})
	}
}

func TestVerifyWebhookSignatureRefusesEmptyKeyForgery(t *testing.T) {
	t.Parallel()
	// Anyone can compute the HMAC under an empty key; with an empty secret
	// configured by mistake, such a signature must not pass.
	payload := []byte(`{"run_id":"run_1","status":"completed"}`)
	forged := hex.EncodeToString(webhookMAC(payload, ""))
	assert.ErrorIs(t, bitscale.VerifyWebhookSignature(payload, forged, ""), bitscale.ErrNoWebhookSecret)
	assert.ErrorIs(t, bitscale.VerifyWebhookSignature(payload, forged, "", webhookSecret), bitscale.ErrInvalidSignature)
}

func TestParseWebhookDecodesEveryField(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	r := delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), "run_xyz789")

	run, err := bitscale.ParseWebhook(r, webhookSecret)
	require.NoError(t, err)
	assert.Equal(t, "run_xyz789", run.ID)
	assert.Equal(t, "grid_001", run.GridID)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.Equal(t, map[string]any{
		"3f7a1c2e-9b4d-4e8f-a012-bc3d56ef7890": "Jane Doe",
		"7c2b0f4a-1d3e-4a9c-b567-de8f90ab1234": "Acme Corp",
		"a1b2c3d4-e5f6-7890-abcd-ef1234567890": "jane.doe@acmecorp.com",
		"b2c3d4e5-f6a7-8901-bcde-f12345678901": "https://linkedin.com/in/janedoe",
	}, run.Outputs)
	require.NotNil(t, run.Credits)
	assert.Equal(t, bitscale.Credits{Consumed: 12, Remaining: 65788}, *run.Credits)
	require.NotNil(t, run.StartedAt)
	require.NotNil(t, run.CompletedAt)
	assert.True(t, run.StartedAt.Equal(time.Date(2024, 4, 15, 12, 0, 0, 0, time.UTC)), run.StartedAt)
	assert.True(t, run.CompletedAt.Equal(time.Date(2024, 4, 15, 12, 0, 4, 0, time.UTC)), run.CompletedAt)
	assert.Equal(t, 4*time.Second, run.CompletedAt.Sub(*run.StartedAt))
	assert.Nil(t, run.Error)
}

func TestParseWebhookWithoutRunIDHeader(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	run, err := bitscale.ParseWebhook(delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), ""), webhookSecret)
	require.NoError(t, err)
	assert.Equal(t, "run_xyz789", run.ID)
}

func TestParseWebhookBodyLimit(t *testing.T) {
	t.Parallel()
	// A run padded with spaces to exactly the limit is read; one byte more
	// is refused even though it is validly signed.
	run := runJSON("run_big", "completed")
	pad := bitscale.DefaultWebhookMaxBody - len(run)
	atLimit := append(bytes.Clone(run), bytes.Repeat([]byte(" "), pad)...)
	require.Len(t, atLimit, bitscale.DefaultWebhookMaxBody)

	got, err := bitscale.ParseWebhook(delivery(atLimit, bitscale.SignWebhookPayload(atLimit, webhookSecret), ""), webhookSecret)
	require.NoError(t, err)
	assert.Equal(t, "run_big", got.ID)

	over := append(atLimit, ' ')
	got, err = bitscale.ParseWebhook(delivery(over, bitscale.SignWebhookPayload(over, webhookSecret), ""), webhookSecret)
	assert.ErrorIs(t, err, bitscale.ErrWebhookTooLarge)
	assert.Nil(t, got)
}

func TestParseWebhookRefusals(t *testing.T) {
	t.Parallel()
	valid := fixture(t, "webhook_payload.json")
	sign := func(b []byte) string { return bitscale.SignWebhookPayload(b, webhookSecret) }
	tampered := bytes.Replace(valid, []byte("Jane Doe"), []byte("John Doe"), 1)

	cases := []struct {
		name  string
		body  []byte
		sig   string
		runID string
		want  error
	}{
		{"signed over other bytes", tampered, sign(valid), "", bitscale.ErrInvalidSignature},
		// Not JSON and wrongly signed: the signature is refused before any
		// decoding is tried.
		{"unsigned garbage", []byte("not json"), sign(valid), "", bitscale.ErrInvalidSignature},
		{"signed with another secret", valid, bitscale.SignWebhookPayload(valid, "other"), "", bitscale.ErrInvalidSignature},
		{"no signature", valid, "", "", bitscale.ErrMissingSignature},
		{"malformed signature", valid, "sha1=" + sign(valid)[:40], "", bitscale.ErrMalformedSignature},
		{"no signature, body not a run", []byte("not json"), "", "", bitscale.ErrMissingSignature},
		{"run id header names another run", valid, sign(valid), "run_other", bitscale.ErrInvalidWebhook},
		{"array", []byte(`[]`), sign([]byte(`[]`)), "", bitscale.ErrInvalidWebhook},
		{"empty object", []byte(`{}`), sign([]byte(`{}`)), "", bitscale.ErrInvalidWebhook},
		{"not json", []byte(`not json`), sign([]byte(`not json`)), "", bitscale.ErrInvalidWebhook},
		{"empty body", []byte{}, sign([]byte{}), "", bitscale.ErrInvalidWebhook},
		{"null", []byte(`null`), sign([]byte(`null`)), "", bitscale.ErrInvalidWebhook},
		{"run without status", []byte(`{"run_id":"run_1"}`), sign([]byte(`{"run_id":"run_1"}`)), "", bitscale.ErrInvalidWebhook},
		{"status without run", []byte(`{"status":"completed"}`), sign([]byte(`{"status":"completed"}`)), "", bitscale.ErrInvalidWebhook},
		{"run id of the wrong type", []byte(`{"run_id":7,"status":"completed"}`), sign([]byte(`{"run_id":7,"status":"completed"}`)), "", bitscale.ErrInvalidWebhook},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, err := bitscale.ParseWebhook(delivery(tc.body, tc.sig, tc.runID), webhookSecret)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, run, "nothing is returned from a refused delivery")
			for _, other := range []error{bitscale.ErrInvalidSignature, bitscale.ErrMissingSignature, bitscale.ErrMalformedSignature, bitscale.ErrInvalidWebhook, bitscale.ErrWebhookTooLarge} {
				if other != tc.want {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

// readCounter is a request body that counts the bytes read from it.
type readCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestParseWebhookNoSecretReadsNothing(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	for _, tc := range []struct {
		name    string
		secrets []string
		sig     string
	}{
		{"no secrets", nil, bitscale.SignWebhookPayload(body, "")},
		{"empty secret", []string{""}, bitscale.SignWebhookPayload(body, "")},
		{"blank secrets", []string{" ", "\n"}, bitscale.SignWebhookPayload(body, " ")},
		{"no secret and no signature", nil, ""},
		{"no secret and a malformed signature", []string{""}, "sha256=zz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := delivery(nil, tc.sig, "")
			counter := &readCounter{r: bytes.NewReader(body)}
			r.Body = io.NopCloser(counter)
			run, err := bitscale.ParseWebhook(r, tc.secrets...)
			assert.Equal(t, bitscale.ErrNoWebhookSecret, err, "the setup's fault comes first, unwrapped")
			assert.Nil(t, run)
			assert.Zero(t, counter.n.Load(), "the body is not read")
		})
	}
}

func TestParseWebhookRefusesBadSignatureHeaderUnread(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	for _, tc := range []struct {
		name, sig string
		want      error
	}{
		{"none", "", bitscale.ErrMissingSignature},
		{"blank", " ,\t", bitscale.ErrMissingSignature},
		{"no digest", "v1=abc", bitscale.ErrMalformedSignature},
		{"1 MiB of commas", strings.Repeat(",", 1<<20), bitscale.ErrMalformedSignature},
		{"1 MiB of fields", strings.Repeat("a,", 1<<19), bitscale.ErrMalformedSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := delivery(nil, "", "")
			r.Header.Set(bitscale.SignatureHeader, tc.sig)
			counter := &readCounter{r: bytes.NewReader(body)}
			r.Body = io.NopCloser(counter)
			run, err := bitscale.ParseWebhook(r, webhookSecret)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, run)
			assert.Zero(t, counter.n.Load(), "an unsigned delivery's body is not read")
		})
	}
}

func TestParseWebhookSetsWebhookRefFromURL(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	sig := bitscale.SignWebhookPayload(body, webhookSecret)
	for target, want := range map[string]string{
		"/webhooks/bitscale":                                "",
		"/webhooks/bitscale?bitscale_ref=0123abcd":          "0123abcd",
		"/webhooks/bitscale?tenant=7&bitscale_ref=0123abcd": "0123abcd",
		"/webhooks/bitscale?bitscale_ref=0123abcd&tenant=7": "0123abcd",
		"/webhooks/bitscale?other_ref=0123abcd&tenant=7":    "",
	} {
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		r.Header.Set(bitscale.SignatureHeader, sig)
		run, err := bitscale.ParseWebhook(r, webhookSecret)
		require.NoError(t, err, target)
		assert.Equal(t, want, run.WebhookRef, target)
	}
}

func TestParseWebhookFailedRunError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		error string
		want  bitscale.RunError
	}{
		{"string", `"enrichment provider timed out"`, bitscale.RunError{Message: "enrichment provider timed out"}},
		{"object", `{"code":"PROVIDER_TIMEOUT","message":"enrichment provider timed out"}`,
			bitscale.RunError{Code: "PROVIDER_TIMEOUT", Message: "enrichment provider timed out"}},
		{"object with numeric code and detail", `{"code":504,"detail":"gateway timeout"}`,
			bitscale.RunError{Code: "504", Message: "gateway timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(`{"run_id":"run_fail1","grid_id":"grid_001","status":"failed","error":` + tc.error +
				`,"started_at":"2024-04-15T12:00:00Z","completed_at":"2024-04-15T12:00:09Z"}`)
			run, err := bitscale.ParseWebhook(delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), "run_fail1"), webhookSecret)
			require.NoError(t, err)
			assert.Equal(t, bitscale.RunFailed, run.Status)
			require.NotNil(t, run.Error)
			assert.Equal(t, tc.want, *run.Error)
			assert.ErrorIs(t, run.Error, bitscale.ErrRunFailed)
			assert.Contains(t, run.Error.Error(), tc.want.Message)
		})
	}
}

// webhookRig serves a WebhookHandler over a real listener and counts the calls of fn.
type webhookRig struct {
	t      *testing.T
	url    string
	client *http.Client
	calls  atomic.Int32
}

// newWebhookRig starts a server for WebhookHandler(fn, opts...). fn may be
// nil for one that accepts every run. Server and idle connections are closed
// when the test ends.
func newWebhookRig(t *testing.T, fn func(context.Context, *bitscale.Run) error, opts ...bitscale.WebhookOption) *webhookRig {
	t.Helper()
	rig := &webhookRig{t: t}
	counted := func(ctx context.Context, run *bitscale.Run) error {
		rig.calls.Add(1)
		if fn == nil {
			return nil
		}
		return fn(ctx, run)
	}
	srv := httptest.NewServer(bitscale.WebhookHandler(counted, opts...))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rig.url = srv.URL + "/webhooks/bitscale"
	rig.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return rig
}

// post sends body signed with secret ("" for no signature header) and
// returns the status and the response body.
func (rig *webhookRig) post(body []byte, secret string) (int, string) {
	rig.t.Helper()
	sig := ""
	if secret != "" {
		sig = bitscale.SignWebhookPayload(body, secret)
	}
	status, text, _ := rig.send(http.MethodPost, body, sig)
	return status, text
}

// send sends body with method and the signature header sig, if not empty.
func (rig *webhookRig) send(method string, body []byte, sig string) (int, string, http.Header) {
	rig.t.Helper()
	req, err := http.NewRequest(method, rig.url, bytes.NewReader(body))
	require.NoError(rig.t, err)
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(bitscale.SignatureHeader, sig)
	}
	resp, err := rig.client.Do(req)
	require.NoError(rig.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(rig.t, err)
	return resp.StatusCode, string(b), resp.Header
}

func TestWebhookHandlerStatuses(t *testing.T) {
	t.Parallel()
	valid := fixture(t, "webhook_payload.json")
	signed := bitscale.SignWebhookPayload(valid, webhookSecret)
	cases := []struct {
		name     string
		method   string
		body     []byte
		sig      string
		opts     []bitscale.WebhookOption
		want     int
		wantText string
	}{
		{"GET", http.MethodGet, nil, "", nil, http.StatusMethodNotAllowed, "method not allowed\n"},
		{"PUT, validly signed", http.MethodPut, valid, signed, nil, http.StatusMethodNotAllowed, "method not allowed\n"},
		{"too large", http.MethodPost, valid, signed,
			[]bitscale.WebhookOption{bitscale.WithWebhookMaxBody(64)}, http.StatusRequestEntityTooLarge, "bitscale: webhook body too large\n"},
		{"bad signature", http.MethodPost, valid, bitscale.SignWebhookPayload(valid, "other"), nil, http.StatusUnauthorized, "invalid signature\n"},
		{"no signature", http.MethodPost, valid, "", nil, http.StatusUnauthorized, "missing X-BitScale-Signature\n"},
		{"garbage signature", http.MethodPost, valid, "garbage", nil, http.StatusUnauthorized, "malformed X-BitScale-Signature\n"},
		{"SHA-1 signature", http.MethodPost, valid, "sha1=" + signed[:40], nil, http.StatusUnauthorized, "malformed X-BitScale-Signature\n"},
		{"signature header over 4 KiB", http.MethodPost, valid, signed + strings.Repeat(",", 4096), nil, http.StatusUnauthorized, "malformed X-BitScale-Signature\n"},
		{"not a run", http.MethodPost, []byte(`{}`), bitscale.SignWebhookPayload([]byte(`{}`), webhookSecret), nil, http.StatusBadRequest,
			"bitscale: webhook payload is not a run: no run_id or status\n"},
		{"not json", http.MethodPost, []byte(`<html>`), bitscale.SignWebhookPayload([]byte(`<html>`), webhookSecret), nil, http.StatusBadRequest,
			"bitscale: webhook payload is not a run: invalid character '<' looking for beginning of value\n"},
		{"genuine", http.MethodPost, valid, signed, nil, http.StatusNoContent, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]bitscale.WebhookOption{bitscale.WithWebhookSecret(webhookSecret)}, tc.opts...)
			rig := newWebhookRig(t, nil, opts...)
			status, text, header := rig.send(tc.method, tc.body, tc.sig)
			assert.Equal(t, tc.want, status)
			assert.Equal(t, tc.wantText, text, "what the sender reads")
			if tc.want == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodPost, header.Get("Allow"))
			}
			wantCalls := 0
			if tc.want == http.StatusNoContent {
				wantCalls = 1
			}
			assert.EqualValues(t, wantCalls, rig.calls.Load(), "fn is called only for an accepted delivery")
		})
	}
}

func TestWebhookHandlerMaxBodyBoundary(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookMaxBody(int64(len(body))))
	status, _ := rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusNoContent, status, "a body of exactly the limit is accepted")
	status, _ = rig.post(append(runJSON("run_2", "completed"), ' '), webhookSecret)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.EqualValues(t, 1, rig.calls.Load())
}

func TestWebhookHandlerDeliversRunOnce(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	var got atomic.Pointer[bitscale.Run]
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		got.Store(run)
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret))

	status, _ := rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 1, rig.calls.Load())
	run := got.Load()
	require.NotNil(t, run)
	assert.Equal(t, "run_xyz789", run.ID)
	assert.Equal(t, bitscale.RunCompleted, run.Status)
	assert.Len(t, run.Outputs, 4)
	require.NotNil(t, run.Credits)
	assert.Equal(t, 12, run.Credits.Consumed)

	// BitScale repeats a delivery it did not see acknowledged: the repeat
	// is acknowledged without handling the run again.
	for range 3 {
		status, _ = rig.post(body, webhookSecret)
		assert.Equal(t, http.StatusNoContent, status)
	}
	assert.EqualValues(t, 1, rig.calls.Load())
}

func TestWebhookHandlerFailureIsRedelivered(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	var fail atomic.Bool
	fail.Store(true)
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		if fail.Load() {
			return errors.New("database is down: dsn=postgres://app:hunter2@db")
		}
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret))

	status, text := rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.NotContains(t, text, "hunter2", "fn's error is not sent back to BitScale")
	assert.EqualValues(t, 1, rig.calls.Load())

	// A failed run is not remembered: the redelivery is handled.
	status, _ = rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.EqualValues(t, 2, rig.calls.Load())

	fail.Store(false)
	status, _ = rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 3, rig.calls.Load())

	status, _ = rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 3, rig.calls.Load(), "once handled, a repeat is dropped")
}

func TestWebhookHandlerDedupOff(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookDedup(0))
	for range 3 {
		status, _ := rig.post(body, webhookSecret)
		assert.Equal(t, http.StatusNoContent, status)
	}
	assert.EqualValues(t, 3, rig.calls.Load())
}

func TestWebhookHandlerDedupForgetsOldest(t *testing.T) {
	t.Parallel()
	rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookDedup(2))
	deliver := func(id string, wantCalls int32) {
		t.Helper()
		status, _ := rig.post(runJSON(id, "completed"), webhookSecret)
		assert.Equal(t, http.StatusNoContent, status, id)
		assert.Equal(t, wantCalls, rig.calls.Load(), id)
	}
	deliver("run_a", 1)
	deliver("run_b", 2)
	deliver("run_b", 2) // remembered
	deliver("run_a", 2) // remembered
	deliver("run_c", 3) // run_a, the oldest, is forgotten
	deliver("run_c", 3)
	deliver("run_b", 3)
	deliver("run_a", 4) // forgotten, so handled again; run_b goes
	deliver("run_c", 4)
	deliver("run_b", 5)
}

// mapRunSet is a RunSet as a user might back with a shared table.
type mapRunSet struct {
	mu       sync.Mutex
	ids      map[string]bool
	contains []string
	added    []string
}

func (s *mapRunSet) Contains(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contains = append(s.contains, id)
	return s.ids[id]
}

func (s *mapRunSet) Add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.added = append(s.added, id)
	s.ids[id] = true
}

func TestWebhookHandlerCustomRunSet(t *testing.T) {
	t.Parallel()
	set := &mapRunSet{ids: map[string]bool{"run_seen": true}}
	var fail atomic.Bool
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		if fail.Load() {
			return errors.New("boom")
		}
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookRunSet(set))

	// A run another replica handled is acknowledged without calling fn.
	status, _ := rig.post(runJSON("run_seen", "completed"), webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Zero(t, rig.calls.Load())

	status, _ = rig.post(runJSON("run_new", "completed"), webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 1, rig.calls.Load())

	status, _ = rig.post(runJSON("run_new", "completed"), webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 1, rig.calls.Load())

	fail.Store(true)
	status, _ = rig.post(runJSON("run_failing", "failed"), webhookSecret)
	assert.Equal(t, http.StatusInternalServerError, status)

	set.mu.Lock()
	defer set.mu.Unlock()
	assert.Contains(t, set.contains, "run_seen")
	assert.Contains(t, set.contains, "run_new")
	assert.Equal(t, []string{"run_new"}, set.added, "only runs fn handled are added, once")
	assert.True(t, set.ids["run_new"])
	assert.False(t, set.ids["run_failing"])
}

func TestWebhookHandlerConcurrentDuplicateIsConflict(t *testing.T) {
	t.Parallel()
	body := fixture(t, "webhook_payload.json")
	entered := make(chan struct{})
	var enterOnce sync.Once
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		enterOnce.Do(func() { close(entered) })
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, bitscale.WithWebhookSecret(webhookSecret))
	// Runs before the server is closed, which waits for fn to return.
	t.Cleanup(unblock)

	first := make(chan int, 1)
	go func() {
		// No assertions here: they may not run outside the test goroutine.
		req, _ := http.NewRequest(http.MethodPost, rig.url, bytes.NewReader(body))
		req.Header.Set(bitscale.SignatureHeader, bitscale.SignWebhookPayload(body, webhookSecret))
		resp, err := rig.client.Do(req)
		if err != nil {
			first <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()

	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("fn was not called for the first delivery")
	}
	status, _ := rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusConflict, status, "a repeat while the first is handled comes again later")
	unblock()

	select {
	case s := <-first:
		assert.Equal(t, http.StatusNoContent, s)
	case <-time.After(5 * time.Second):
		t.Fatal("the first delivery was not answered")
	}
	assert.EqualValues(t, 1, rig.calls.Load())

	status, _ = rig.post(body, webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
	assert.EqualValues(t, 1, rig.calls.Load())
}

func TestWebhookHandlerDistinctRunsInParallel(t *testing.T) {
	t.Parallel()
	// Many runs delivered at once, each four times: every run is handled,
	// and every delivery is acknowledged or asked to come again.
	var mu sync.Mutex
	seen := map[string]int{}
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		mu.Lock()
		seen[run.ID]++
		mu.Unlock()
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret))

	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := runJSON(fmt.Sprintf("run_%d", i%10), "completed")
			req, _ := http.NewRequest(http.MethodPost, rig.url, bytes.NewReader(body))
			req.Header.Set(bitscale.SignatureHeader, bitscale.SignWebhookPayload(body, webhookSecret))
			resp, err := rig.client.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Contains(t, []int{http.StatusNoContent, http.StatusConflict}, s)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, 10, "every run was handled")
}

func TestWebhookHandlerSecretRotation(t *testing.T) {
	t.Parallel()
	rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret("whsec_old", "whsec_new"))
	status, _ := rig.post(runJSON("run_1", "completed"), "whsec_old")
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = rig.post(runJSON("run_2", "completed"), "whsec_new")
	assert.Equal(t, http.StatusNoContent, status)
	status, _ = rig.post(runJSON("run_3", "completed"), "whsec_other")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.EqualValues(t, 2, rig.calls.Load())
}

func TestNewWebhookHandlerRefusesBadSetups(t *testing.T) {
	t.Parallel()
	fn := func(context.Context, *bitscale.Run) error { return nil }
	secret := bitscale.WithWebhookSecret(webhookSecret)
	for _, tc := range []struct {
		name   string
		fn     func(context.Context, *bitscale.Run) error
		opts   []bitscale.WebhookOption
		want   string
		noSecr bool // the error matches ErrNoWebhookSecret
	}{
		{"no secret option", fn, nil,
			"bitscale: no webhook secret given: the handler would refuse every delivery; give WithWebhookSecret a non-empty secret", true},
		{"unset variable", fn, []bitscale.WebhookOption{bitscale.WithWebhookSecret("")}, "bitscale: no webhook secret given", true},
		{"blank secrets", fn, []bitscale.WebhookOption{bitscale.WithWebhookSecret(" ", "\t\n")}, "bitscale: no webhook secret given", true},
		{"no secrets in the option", fn, []bitscale.WebhookOption{bitscale.WithWebhookSecret()}, "bitscale: no webhook secret given", true},
		{"nil fn", nil, []bitscale.WebhookOption{secret}, "bitscale: webhook handler: nil fn", false},
		{"nil option", fn, []bitscale.WebhookOption{secret, nil}, "bitscale: webhook handler: nil WebhookOption", false},
		{"zero max body", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookMaxBody(0)},
			"bitscale: WithWebhookMaxBody: need a positive size, got 0", false},
		{"negative max body", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookMaxBody(-1)},
			"bitscale: WithWebhookMaxBody: need a positive size, got -1", false},
		{"negative dedup", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookDedup(-5)},
			"bitscale: WithWebhookDedup: negative count -5", false},
		{"nil run set", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookRunSet(nil)},
			"bitscale: WithWebhookRunSet: nil RunSet", false},
		{"nil logger", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookLogger(nil)},
			"bitscale: WithWebhookLogger: nil logger", false},
		{"zero max age", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookMaxAge(0)},
			"bitscale: WithWebhookMaxAge: need a positive duration, got 0s", false},
		{"negative max age", fn, []bitscale.WebhookOption{secret, bitscale.WithWebhookMaxAge(-time.Hour)},
			"bitscale: WithWebhookMaxAge: need a positive duration, got -1h0m0s", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := bitscale.NewWebhookHandler(tc.fn, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, tc.noSecr, errors.Is(err, bitscale.ErrNoWebhookSecret), err)

			// WebhookHandler panics with the very same error, at once.
			defer func() {
				p := recover()
				perr, ok := p.(error)
				require.True(t, ok, "WebhookHandler panicked with %v, want an error", p)
				assert.Equal(t, err.Error(), perr.Error())
				assert.Equal(t, tc.noSecr, errors.Is(perr, bitscale.ErrNoWebhookSecret))
			}()
			bitscale.WebhookHandler(tc.fn, tc.opts...)
			t.Error("WebhookHandler did not panic")
		})
	}
}

func TestNewWebhookHandlerTakesOneUsableSecretAmongUnset(t *testing.T) {
	t.Parallel()
	// A second secret left unset while not rotating is no error.
	h, err := bitscale.NewWebhookHandler(func(context.Context, *bitscale.Run) error { return nil },
		bitscale.WithWebhookSecret("", webhookSecret), bitscale.WithWebhookSecret(" "))
	require.NoError(t, err)
	body := runJSON("run_1", "completed")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), ""))
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	w = httptest.NewRecorder()
	h.ServeHTTP(w, delivery(body, bitscale.SignWebhookPayload(body, " "), ""))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a blank secret verifies nothing")
}

func TestWebhookHandlerMaxAge(t *testing.T) {
	t.Parallel()
	// Ages far from the limit either way, so that the test's own duration
	// cannot change the verdict.
	at := func(ago time.Duration) []byte {
		return []byte(fmt.Sprintf(`{"run_id":"run_%d","status":"completed","completed_at":%q}`,
			ago/time.Minute, time.Now().Add(-ago).UTC().Format(time.RFC3339)))
	}
	for _, tc := range []struct {
		name       string
		body       []byte
		want       int
		wantPrefix string // of the answer text
		wantSuffix string
	}{
		{"recent", at(time.Minute), http.StatusNoContent, "", ""},
		{"clock ahead", at(-time.Minute), http.StatusNoContent, "", ""},
		// The seconds the test takes may show in the age.
		{"a day old", at(24 * time.Hour), http.StatusBadRequest, "delivery too old: run completed 24h0m", " ago, more than the 1h0m0s allowed\n"},
		{"no completed_at", runJSON("run_x", "completed"), http.StatusBadRequest, "delivery has no completed_at, so its age cannot be checked\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookMaxAge(time.Hour))
			status, text := rig.post(tc.body, webhookSecret)
			assert.Equal(t, tc.want, status)
			assert.True(t, strings.HasPrefix(text, tc.wantPrefix), "text %q, want it to start %q", text, tc.wantPrefix)
			assert.True(t, strings.HasSuffix(text, tc.wantSuffix), "text %q, want it to end %q", text, tc.wantSuffix)
			wantCalls := 0
			if tc.want == http.StatusNoContent {
				wantCalls = 1
			}
			assert.EqualValues(t, wantCalls, rig.calls.Load(), "fn is not called for a stale delivery")
		})
	}

	// Without the option, age is no reason to refuse.
	rig := newWebhookRig(t, nil, bitscale.WithWebhookSecret(webhookSecret))
	status, _ := rig.post(at(24*time.Hour), webhookSecret)
	assert.Equal(t, http.StatusNoContent, status)
}

func TestWebhookHandlerPassesWebhookRefToFn(t *testing.T) {
	t.Parallel()
	var got atomic.Pointer[bitscale.Run]
	h := bitscale.WebhookHandler(func(_ context.Context, run *bitscale.Run) error {
		got.Store(run)
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret))
	body := runJSON("run_1", "completed")
	r := httptest.NewRequest(http.MethodPost, "/webhooks/bitscale?tenant=7&bitscale_ref=9f86d081884c7d65", bytes.NewReader(body))
	r.Header.Set(bitscale.SignatureHeader, bitscale.SignWebhookPayload(body, webhookSecret))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	require.NotNil(t, got.Load())
	assert.Equal(t, "9f86d081884c7d65", got.Load().WebhookRef)
}

func TestWebhookHandlerLogsRefusalsAndFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	rig := newWebhookRig(t, func(ctx context.Context, run *bitscale.Run) error {
		return errors.New("disk full")
	}, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookLogger(logger))

	status, _ := rig.post(runJSON("run_1", "completed"), "wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = rig.send(http.MethodPost, runJSON("run_1", "completed"), "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = rig.send(http.MethodPost, runJSON("run_1", "completed"), "v1=abc")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _ = rig.post(runJSON("run_2", "completed"), webhookSecret)
	assert.Equal(t, http.StatusInternalServerError, status)

	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 4, buf.String())
	for i, want := range []string{
		`level=WARN msg="bitscale: webhook refused" status=401 reason="invalid signature"`,
		`level=WARN msg="bitscale: webhook refused" status=401 reason="missing X-BitScale-Signature"`,
		`level=WARN msg="bitscale: webhook refused" status=401 reason="malformed X-BitScale-Signature"`,
		`level=ERROR msg="bitscale: webhook handler failed" run_id=run_2 error="disk full"`,
	} {
		assert.Contains(t, lines[i], want)
	}
	assert.NotContains(t, buf.String(), webhookSecret)
}

// lockedWriter serializes writes from the server's goroutines.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// slowRunSet answers Contains truthfully but only after gate is released,
// as a shared table queried over the network may.
type slowRunSet struct {
	mu    sync.Mutex
	ids   map[string]bool
	block atomic.Bool
	asked chan struct{}
	gate  chan struct{}
}

func (s *slowRunSet) Contains(id string) bool {
	s.mu.Lock()
	ok := s.ids[id]
	s.mu.Unlock()
	if s.block.CompareAndSwap(true, false) {
		close(s.asked)
		<-s.gate
	}
	return ok
}

func (s *slowRunSet) Add(id string) { s.mu.Lock(); s.ids[id] = true; s.mu.Unlock() }

func TestWebhookHandlerRepeatEndingMidCheckIsNotHandledTwice(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	set := &slowRunSet{ids: map[string]bool{}, asked: make(chan struct{}), gate: make(chan struct{})}
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := bitscale.WebhookHandler(func(ctx context.Context, run *bitscale.Run) error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}, bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookRunSet(set))
	do := func() int {
		r := delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), "")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	first := make(chan int, 1)
	go func() { first <- do() }()
	<-entered
	set.block.Store(true)
	second := make(chan int, 1)
	go func() { second <- do() }()
	<-set.asked    // the repeat has looked in the set: not there yet
	close(release) // the first delivery finishes and is remembered
	assert.Equal(t, 204, <-first)
	close(set.gate)
	assert.Equal(t, 204, <-second, "the repeat is acknowledged")
	assert.EqualValues(t, 1, calls.Load(), "one run, handled once")
}

func TestWebhookHandlerHugeMaxBodyDoesNotOverflow(t *testing.T) {
	t.Parallel()
	body := runJSON("run_1", "completed")
	h := bitscale.WebhookHandler(func(ctx context.Context, run *bitscale.Run) error { return nil },
		bitscale.WithWebhookSecret(webhookSecret), bitscale.WithWebhookMaxBody(math.MaxInt64))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, delivery(body, bitscale.SignWebhookPayload(body, webhookSecret), ""))
	assert.Equal(t, 204, w.Code, w.Body.String())
}

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

// A header may hold up to 8 signatures, as during a rotation of several
// secrets; a ninth makes it malformed, whichever of them is valid.
func TestVerifyWebhookSignatureTakesUpToEightSignatures(t *testing.T) {
	t.Parallel()
	payload := []byte(`{"run_id":"run_1","status":"completed"}`)
	valid := bitscale.SignWebhookPayload(payload, "whsec_current")
	other := bitscale.SignWebhookPayload(payload, "whsec_other")
	header := func(n int) string {
		fields := make([]string, n)
		for i := range fields {
			fields[i] = other
		}
		fields[n-1] = valid
		return strings.Join(fields, ",")
	}
	assert.NoError(t, bitscale.VerifyWebhookSignature(payload, header(8), "whsec_current"))
	err := bitscale.VerifyWebhookSignature(payload, header(9), "whsec_current")
	assert.ErrorIs(t, err, bitscale.ErrMalformedSignature)
	assert.ErrorContains(t, err, "more than 8 signatures")
}
