package bitscale

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// X-RateLimit-Reset is a time on the server's clock: a response whose Date
// is off the local clock by more than skewTolerance moves it by as much.
func TestParseRateLimitReadsTheResetOnTheServersClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		skew time.Duration // of the local clock over the server's
		want time.Duration // how far the reset moves
	}{
		{"clocks agree", 0, 0},
		{"within the tolerance", skewTolerance / 4, 0},
		{"server behind", 10 * time.Minute, 10 * time.Minute},
		{"server ahead", -10 * time.Minute, -10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Now()
			serverReset := now.Add(30 * time.Second).Add(-tc.skew).Truncate(time.Second)
			h := header("X-RateLimit-Remaining", "0",
				"X-RateLimit-Reset", strconv.FormatInt(serverReset.Unix(), 10),
				"Date", now.Add(-tc.skew).UTC().Format(http.TimeFormat))
			// The Date is truncated to the second, and read a moment later.
			assert.WithinDuration(t, serverReset.Add(tc.want), parseRateLimit(h).Reset, skewTolerance)
		})
	}
	h := header("X-RateLimit-Reset", "1712345678", "Date", "yesterday")
	assert.Equal(t, time.Unix(1712345678, 0), parseRateLimit(h).Reset, "a Date that does not parse is ignored")
}

func TestRetryAfterReadsADateOnTheServersClock(t *testing.T) {
	t.Parallel()
	now := time.Now()
	server := now.Add(-10 * time.Minute) // the server's clock is behind
	h := header("Retry-After", server.Add(30*time.Second).UTC().Format(http.TimeFormat),
		"Date", server.UTC().Format(http.TimeFormat))
	assert.InDelta(t, float64(30*time.Second), float64(retryAfter(h, now)), float64(time.Second))
	assert.Equal(t, 5*time.Second, retryAfter(header("Retry-After", "5", "Date", server.UTC().Format(http.TimeFormat)), now))
	assert.Zero(t, retryAfter(http.Header{}, now))
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Time{
		"Sun, 06 Nov 1994 08:49:37 GMT":  time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		"Wed, 02 Dec 2026 23:59:59 GMT":  time.Date(2026, 12, 2, 23, 59, 59, 0, time.UTC),
		"Thu, 29 Feb 2024 00:00:00 GMT":  time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"Sunday, 06-Nov-94 08:49:37 GMT": time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), // RFC 850
		"Sun Nov  6 08:49:37 1994":       time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), // asctime
		"sun, 06 nov 1994 08:49:37 GMT":  time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC), // as time.Parse folds case
	} {
		got, ok := parseDate(in)
		assert.True(t, ok, in)
		assert.True(t, want.Equal(got), "%s: got %s, want %s", in, got, want)
	}
	for _, in := range []string{
		"", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Nov 1994 08:49:37 GMT", "Fri, 29 Feb 2019 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:37 GMT",
		"Sun, 06 Nov 1994 08:49:60 GMT", "Sun, 06 Nox 1994 08:49:37 GMT", "Sux, 06 Nov 1994 08:49:37 GMT",
		"Sun, 0a Nov 1994 08:49:37 GMT", "Sun, 06 Nov 19x4 08:49:37 GMT", "Sun; 06 Nov 1994 08:49:37 GMT",
	} {
		_, ok := parseDate(in)
		assert.False(t, ok, in)
	}
}

// The form servers send is read by hand, down to its bounds; anything else
// is left to http.ParseTime.
func TestParseIMFDate(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"Mon, 01 Jan 2000 00:00:00 GMT", "Sun, 31 Dec 1999 23:59:59 GMT", "Wed, 29 Feb 2024 12:30:45 GMT",
		"Tue, 30 Apr 2024 09:09:09 GMT", "Thu, 15 Aug 1990 19:19:19 GMT",
	} {
		got, ok := parseIMFDate(in)
		want, err := http.ParseTime(in)
		if !ok || err != nil || !got.Equal(want) {
			t.Errorf("parseIMFDate(%q) = %s, %v; http.ParseTime: %s, %v", in, got, ok, want, err)
		}
	}
	for _, in := range []string{
		"mon, 01 Jan 2000 00:00:00 GMT", "Mon, 01 jan 2000 00:00:00 GMT", "Mon, 01 Jan 2000 00:00:00 UTC",
		"Mon, 00 Jan 2000 00:00:00 GMT", "Mon, 31 Apr 2000 00:00:00 GMT", "Mon, 01 Jan 2000 24:00:00 GMT",
		"Mon, 01 Jan 2000 00:60:00 GMT", "Mon, 01 Jan 2000 00:00:60 GMT", "Mon, 0/ Jan 2000 00:00:00 GMT",
		"Mon, 0: Jan 2000 00:00:00 GMT", "Mon, /1 Jan 2000 00:00:00 GMT", "Mon, :1 Jan 2000 00:00:00 GMT",
		"Mon,  01 Jan 2000 00:00:00 GMT", "Mon; 01 Jan 2000 00:00:00 GMT", "Mon, 01-Jan 2000 00:00:00 GMT",
		"Mon, 01 Jan-2000 00:00:00 GMT", "Mon, 01 Jan 2000-00:00:00 GMT", "Mon, 01 Jan 2000 00-00:00 GMT",
		"Mon, 01 Jan 2000 00:00-00 GMT", "Mon, 01 Jan 2000 00:00:00 GMX",
	} {
		if _, ok := parseIMFDate(in); ok {
			t.Errorf("parseIMFDate took %q", in)
		}
	}
}

// The clocks agree up to skewTolerance, not from it; an answer from a
// cache tells nothing.
func TestClockSkewTolerance(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 3, 4, 7, 0, time.UTC)
	for date, want := range map[string]time.Duration{
		"Wed, 02 Dec 2026 03:04:05 GMT": 2 * time.Second,
		"Wed, 02 Dec 2026 03:04:06 GMT": 0,
		"Wed, 02 Dec 2026 03:04:07 GMT": 0,
		"Wed, 02 Dec 2026 03:04:08 GMT": 0,
		"Wed, 02 Dec 2026 03:04:09 GMT": -2 * time.Second,
	} {
		assert.Equal(t, want, clockSkew(header("Date", date), now), date)
	}
	cached := header("Date", "Wed, 02 Dec 2026 03:04:05 GMT", "Age", "2")
	assert.Zero(t, clockSkew(cached, now), "a cached answer")
}

// FuzzParseDate checks the hand-read form against http.ParseTime, which
// reads every form.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2024 00:00:00 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 23:59:60 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Mon, 01 Jan 0000 00:00:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseDate(v)
		want, err := http.ParseTime(v)
		if ok != (err == nil) || !got.Equal(want) {
			t.Fatalf("parseDate(%q) = %s, %v; http.ParseTime: %s, %v", v, got, ok, want, err)
		}
	})
}

// Answers of one window whose resets were moved by a skew read from Dates
// a second apart are still one window: the lower count stands, whichever
// comes first.
func TestGateTellsWindowsApartOnTheServersClock(t *testing.T) {
	t.Parallel()
	server := time.Now().Add(-10 * time.Minute).Truncate(time.Second) // the server is behind
	reset := strconv.FormatInt(server.Add(30*time.Second).Unix(), 10)
	answer := func(remaining int, date time.Time) RateLimit {
		rl, ok := rateLimitHeaders(header("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", strconv.Itoa(remaining),
			"X-RateLimit-Reset", reset, "Date", date.UTC().Format(http.TimeFormat)))
		require.True(t, ok)
		return rl
	}
	earlier, later := answer(7, server), answer(5, server.Add(time.Second))
	require.True(t, later.Reset.Before(earlier.Reset), "a later Date moves the reset less")
	for name, order := range map[string][2]RateLimit{"lower last": {earlier, later}, "lower first": {later, earlier}} {
		g := newGate(time.Minute, true)
		for _, rl := range order {
			require.NoError(t, acquired(g.acquire(context.Background())))
			g.release(rl, true, true, false)
		}
		assert.Equal(t, 5, g.remaining, name)
	}
}
