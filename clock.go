package bitscale

import (
	"net/http"
	"time"
)

// skewTolerance is how far the server's Date may be from the local clock
// with the clocks taken to agree: a Date is truncated to the second and
// was written before the answer travelled.
const skewTolerance = 2 * time.Second

// clockSkew returns how far the local clock at now, when the response
// arrived, is ahead of the server's (negative if behind), as its Date
// header shows, or zero if the clocks agree within skewTolerance or there
// is no Date to tell. X-RateLimit-Reset is a time on the server's clock:
// read on a machine whose clock is minutes ahead or behind, a window would
// seem to end minutes late, shutting the gate, or to have ended already.
//
// The Date is the second the server answered in, truncated, and the answer
// then travelled: the skew found is the true one or up to a second and the
// travel more, so a reset moved by it is never early, which would send
// requests into a window still spent. An answer with an Age header was
// kept by a cache, and its Date is older than the answer.
func clockSkew(h http.Header, now time.Time) time.Duration {
	if first(h, "Age") != "" {
		return 0
	}
	date, ok := parseDate(first(h, "Date"))
	if !ok {
		return 0
	}
	if skew := now.Sub(date); skew <= -skewTolerance || skew >= skewTolerance {
		return skew
	}
	return 0
}

// retryAfter returns how long a response's Retry-After asks to wait, with
// an HTTP date read on the server's clock as its Date shows it.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := first(h, "Retry-After")
	if v == "" {
		return 0
	}
	return parseRetryAfter(v, now.Add(-clockSkew(h, now)))
}

// parseDate reads an HTTP date. The form servers send, such as
// "Mon, 02 Jan 2006 15:04:05 GMT", is read here, as every answer carries
// one and time.Parse would cost more than the rest of the rate-limit
// headers together; anything else goes to http.ParseTime.
func parseDate(v string) (time.Time, bool) {
	if t, ok := parseIMFDate(v); ok {
		return t, true
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}

// parseIMFDate reads "Mon, 02 Jan 2006 15:04:05 GMT" with the names
// spelled so. It reports false for anything else, valid or not.
func parseIMFDate(v string) (time.Time, bool) {
	if len(v) != len(http.TimeFormat) || v[3:5] != ", " || v[7] != ' ' || v[11] != ' ' ||
		v[16] != ' ' || v[19] != ':' || v[22] != ':' || v[25:] != " GMT" ||
		nameIndex("MonTueWedThuFriSatSun", v[:3]) < 0 {
		return time.Time{}, false
	}
	month := nameIndex("JanFebMarAprMayJunJulAugSepOctNovDec", v[8:11])
	day, okD := twoDigits(v[5:7])
	century, okC := twoDigits(v[12:14])
	year, okY := twoDigits(v[14:16])
	hour, okH := twoDigits(v[17:19])
	minute, okM := twoDigits(v[20:22])
	sec, okS := twoDigits(v[23:25])
	if !(okD && okC && okY && okH && okM && okS) || month < 0 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(century*100+year, time.Month(month+1), day, hour, minute, sec, 0, time.UTC)
	return t, t.Day() == day // not the 31st of a shorter month
}

// twoDigits reads two decimal digits.
func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// nameIndex returns the index of the three-letter name in names, or -1.
func nameIndex(names, name string) int {
	for i := 0; i+3 <= len(names); i += 3 {
		if names[i:i+3] == name {
			return i / 3
		}
	}
	return -1
}
