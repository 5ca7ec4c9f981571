package fakeserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"time"
)

// webhookRetries is how many times a failed delivery is retried, as the
// reference says.
const webhookRetries = 3

// Delivery is one attempt to deliver a run's webhook.
type Delivery struct {
	RunID      string
	URL        string
	Attempt    int    // 1 for the first attempt, up to 4
	StatusCode int    // the receiver's status, or 0 if it did not answer
	Err        error  // why no answer came, or nil
	Body       []byte // the payload sent, the same on every attempt
	Signature  string // the X-BitScale-Signature header sent
	Time       time.Time
}

// Deliveries returns every webhook delivery attempt so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// deliver posts an ended run's poll response to its webhook URL until the
// receiver answers 2xx, retrying with exponential backoff.
func (s *Server) deliver(r Run) {
	body := encodeJSON(s.resultJSON(r))
	sig := sign(body, s.webhookSecret)
	wait := s.webhookBackoff
	for attempt := 1; attempt <= 1+webhookRetries; attempt++ {
		if attempt > 1 {
			if !s.wait(s.ctx, wait) {
				return
			}
			wait *= 2
		}
		d := Delivery{RunID: r.ID, URL: r.WebhookURL, Attempt: attempt, Body: body, Signature: sig, Time: s.now()}
		d.StatusCode, d.Err = s.post(r, body, sig)
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
		if s.logger != nil {
			s.logger.Info("webhook", "run_id", r.ID, "url", r.WebhookURL, "attempt", attempt, "status", d.StatusCode, "err", d.Err)
		}
		if d.Err == nil && d.StatusCode/100 == 2 {
			return
		}
	}
}

func (s *Server) post(r Run, body []byte, sig string) (int, error) {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, r.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	// Set directly, to send the names spelled as the reference spells them.
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["X-BitScale-Run-Id"] = []string{r.ID}
	req.Header["X-BitScale-Signature"] = []string{sig}
	resp, err := s.webhook.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sign returns the lowercase hex HMAC-SHA256 of body under secret.
func sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
