package bitscale

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// The answers that can be large or frequent, a grid list, a grid and an
// error, are decoded by hand from the body's bytes: encoding/json spends
// most of a large list's time in its scanner and in reflection. The hand
// decoder takes only the plain case, which is nearly every answer: a
// well-formed body, field names spelled as documented, numbers and strings
// that fit their fields. It gives up on anything else (a syntax error, a
// value of the wrong type, a name that only encoding/json's
// case-insensitive matching would take, a field given twice with a list),
// and the body is then decoded again by encoding/json from the zero value,
// so that every answer decodes, or fails, exactly as encoding/json has it.
// Unknown fields are skipped and unknown enum values kept, as there.

// handDecoder is a type decoded by hand: decodeJSON decodes one JSON value
// at s into the receiver, which was zero, and reports whether it could.
type handDecoder interface {
	decodeJSON(s *scanner) bool
}

// handDecoderOf returns v as a handDecoder if it is a pointer to one of the
// types decoded by hand, and nil otherwise: a type of the caller's that
// embeds one of them has the method too, but fields of its own that the
// method would not decode.
func handDecoderOf(v any) handDecoder {
	switch v := v.(type) {
	case *GridList:
		return v
	case *Grid:
		return v
	case *GridSummary:
		return v
	case *Run:
		return v
	}
	return nil
}

// maxDepth is the deepest nesting of an unknown value the scanner skips;
// deeper ones are left to encoding/json, which has its own limit.
const maxDepth = 1000

// scanner reads JSON values from a body held in memory.
type scanner struct {
	buf []byte
	pos int
}

// decodeHand decodes body, one JSON value and nothing after it, into v,
// and reports whether it could. On false, v may hold part of the body.
func decodeHand(body []byte, v handDecoder) bool {
	s := scanner{buf: body}
	if !v.decodeJSON(&s) {
		return false
	}
	s.space()
	return s.pos == len(s.buf)
}

// space skips white space.
func (s *scanner) space() {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.pos < len(s.buf) && s.buf[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// literal consumes lit, such as null, if it comes next.
func (s *scanner) literal(lit string) bool {
	s.space()
	if len(s.buf)-s.pos >= len(lit) && string(s.buf[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// object decodes an object, calling field with each name, the scanner at
// its value; field decodes or skips the value. A null leaves the value as
// it is, as encoding/json does. known are the names field decodes, all in
// lower case: a name that matches one of them only ignoring case, which
// encoding/json would decode into that field, is given up, and so is a
// name with escapes or bytes beyond ASCII, which it might match too.
func (s *scanner) object(known []string, field func(name []byte) bool) bool {
	if s.literal("null") {
		return true
	}
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		s.space()
		start, end, plain, ok := s.stringToken()
		if !ok || !plain || !s.next(':') {
			return false
		}
		name := s.buf[start+1 : end-1]
		if !lowerASCII(name) && !unknownName(name, known) {
			return false
		}
		if !field(name) {
			return false
		}
		if s.next(',') {
			continue
		}
		return s.next('}')
	}
}

// lowerASCII reports whether name has only ASCII bytes and no upper-case
// letter, so that only an exact match could take it to a field.
func lowerASCII(name []byte) bool {
	for _, c := range name {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unknownName reports whether name, which has upper-case letters or bytes
// beyond ASCII, surely matches none of known, even ignoring case.
func unknownName(name []byte, known []string) bool {
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return false // encoding/json folds some letters to ASCII ones
		}
	}
	for _, k := range known {
		if len(k) == len(name) && bytes.EqualFold(name, []byte(k)) {
			return false
		}
	}
	return true
}

// array decodes an array into *p, calling elem with each new element.
// A null sets *p to nil.
func array[T any](s *scanner, p *[]T, elem func(*T) bool) bool {
	if s.literal("null") {
		*p = nil
		return true
	}
	if *p != nil {
		// Given twice: encoding/json would decode into the elements it
		// already has.
		return false
	}
	if !s.next('[') {
		return false
	}
	out := []T{}
	if !s.next(']') {
		// Room for a few from the start, rather than growing through
		// 1, 2 and 4: a grid has a handful of columns.
		out = make([]T, 0, 4)
		for {
			var zero T
			out = append(out, zero)
			if !elem(&out[len(out)-1]) {
				return false
			}
			if s.next(',') {
				continue
			}
			if !s.next(']') {
				return false
			}
			break
		}
	}
	*p = out
	return true
}

// stringToken finds the string starting at s.pos and moves past it. It
// returns the token's bounds, quotes included, and whether it is plain:
// without escapes and in valid UTF-8, so that its bytes are its value.
func (s *scanner) stringToken() (start, end int, plain, ok bool) {
	start = s.pos
	if start >= len(s.buf) || s.buf[start] != '"' {
		return 0, 0, false, false
	}
	// Most strings have no escape: find the closing quote, then check the
	// bytes before it eight at a time. Any other string, or one that only
	// looks like another, is read byte by byte.
	if q := bytes.IndexByte(s.buf[start+1:], '"'); q >= 0 {
		text := s.buf[start+1 : start+1+q]
		if ascii, ok := unescaped(text); ok && (ascii || utf8.Valid(text)) {
			s.pos = start + q + 2
			return start, s.pos, true, true
		}
	}
	plain = true
	ascii := true
	i := start + 1
	for i < len(s.buf) {
		c := s.buf[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(s.buf[start+1:i]) {
				plain = false // encoding/json replaces the bad bytes
			}
			s.pos = i + 1
			return start, i + 1, plain, true
		case c < 0x20:
			return 0, 0, false, false
		case c == '\\':
			plain = false
			if i+1 >= len(s.buf) {
				return 0, 0, false, false
			}
			switch s.buf[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s.buf) {
					return 0, 0, false, false
				}
				for _, h := range s.buf[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, 0, false, false
					}
				}
				i += 6
			default:
				return 0, 0, false, false
			}
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			i++
		}
	}
	return 0, 0, false, false
}

// unescaped reports whether b, the text of a string, has no backslash (an
// escape) and no byte below 0x20 (a control character, not allowed in
// JSON), and whether it is all ASCII, with no UTF-8 to check. It may report
// false for some strings that have neither.
func unescaped(b []byte) (ascii, ok bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var high uint64
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		// A byte below 0x20 sets its high bit in w-0x20… and has it clear
		// in w; a backslash is a zero byte of x.
		x := w ^ (ones * '\\')
		if ((w-ones*0x20)&^w|(x-ones)&^x)&highs != 0 {
			return false, false
		}
		high |= w
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c == '\\' {
			return false, false
		}
		high |= uint64(c)
	}
	return high&highs == 0, true
}

// str decodes a string into *p. A null leaves *p as it is.
func (s *scanner) str(p *string) bool {
	if s.literal("null") {
		return true
	}
	start, end, plain, ok := s.stringToken()
	if !ok {
		return false
	}
	if plain {
		*p = string(s.buf[start+1 : end-1])
		return true
	}
	// Escapes and invalid UTF-8 are rare: encoding/json decodes them.
	return json.Unmarshal(s.buf[start:end], p) == nil
}

// enum decodes a string into *p, without allocating for the values in
// known, the documented values of an enumeration. Others, such as a
// column type newer than this SDK, are decoded as any string.
func (s *scanner) enum(p *string, known []string) bool {
	s.space()
	if q := bytes.IndexByte(s.buf[min(s.pos+1, len(s.buf)):], '"'); q >= 0 && s.buf[s.pos] == '"' {
		text := s.buf[s.pos+1 : s.pos+1+q]
		for _, k := range known {
			if string(text) == k {
				*p = k
				s.pos += q + 2
				return true
			}
		}
	}
	return s.str(p)
}

var (
	columnTypes  = []string{string(ColumnText), string(ColumnNumber), string(ColumnURL), string(ColumnEmail), string(ColumnDate), string(ColumnBoolean), string(ColumnAIEnrichment), string(ColumnFormula)}
	visibilities = []string{string(VisibilityWorkspace), string(VisibilityPrivate), string(VisibilityPublic)}
)

// integer decodes an integer into *p. A null leaves *p as it is; a
// fraction, an exponent or a number too long for the fast path are given
// up.
func (s *scanner) integer(p *int) bool {
	if s.literal("null") {
		return true
	}
	i := s.pos
	neg := i < len(s.buf) && s.buf[i] == '-'
	if neg {
		i++
	}
	digits := i
	var n int64
	for i < len(s.buf) && '0' <= s.buf[i] && s.buf[i] <= '9' {
		n = n*10 + int64(s.buf[i]-'0')
		i++
	}
	switch {
	case i == digits, i-digits > 18, // none, or maybe too many for an int64
		s.buf[digits] == '0' && i-digits > 1, // a leading zero
		i < len(s.buf) && (s.buf[i] == '.' || s.buf[i] == 'e' || s.buf[i] == 'E'):
		return false
	}
	if neg {
		n = -n
	}
	if int64(int(n)) != n { // 32-bit int
		return false
	}
	*p = int(n)
	s.pos = i
	return true
}

// boolean decodes true or false into *p. A null leaves *p as it is.
func (s *scanner) boolean(p *bool) bool {
	switch {
	case s.literal("true"):
		*p = true
	case s.literal("false"):
		*p = false
	case s.literal("null"):
	default:
		return false
	}
	return true
}

// time decodes a timestamp into *p. The API's own form,
// 2024-04-15T11:30:00Z, is read here; any other is left to
// time.Time.UnmarshalJSON, as encoding/json would.
func (s *scanner) time(p *time.Time) bool {
	if s.literal("null") {
		return true
	}
	start, end, _, ok := s.stringToken()
	if !ok {
		return false
	}
	if t, ok := parseUTC(s.buf[start+1 : end-1]); ok {
		*p = t
		return true
	}
	return p.UnmarshalJSON(s.buf[start:end]) == nil
}

// parseUTC parses b of the form 2006-01-02T15:04:05Z, a time in UTC to the
// second, giving the same time.Time as time.Parse with time.RFC3339. It
// reports false for any other form or a date or time out of range.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) != len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' ||
		b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return time.Time{}, false
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

// num returns the decimal number b spells, or -1 if b is not all digits.
func num(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// daysIn returns the number of days in month of year.
func daysIn(month time.Month, year int) int {
	if month == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		return 29
	}
	return int(monthDays[month-1])
}

var monthDays = [12]uint8{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// skip moves past one JSON value of any kind, checking its syntax as
// encoding/json would.
func (s *scanner) skip(depth int) bool {
	s.space()
	if s.pos >= len(s.buf) {
		return false
	}
	switch c := s.buf[s.pos]; c {
	case '"':
		_, _, _, ok := s.stringToken()
		return ok
	case '{', '[':
		if depth >= maxDepth {
			return false
		}
		s.pos++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		if s.next(closing) {
			return true
		}
		for {
			if c == '{' {
				s.space()
				if _, _, _, ok := s.stringToken(); !ok || !s.next(':') {
					return false
				}
			}
			if !s.skip(depth + 1) {
				return false
			}
			if s.next(',') {
				continue
			}
			return s.next(closing)
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.number()
}

// number moves past a number, checking its syntax.
func (s *scanner) number() bool {
	b, i := s.buf, s.pos
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.pos = i
	return true
}

func (l *GridList) decodeJSON(s *scanner) bool {
	return s.object(gridListNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "grids":
			return array(s, &l.Grids, func(g *GridSummary) bool { return g.decodeJSON(s) })
		case "total":
			return s.integer(&l.Total)
		}
		return s.skip(1)
	})
}

func (g *GridSummary) decodeJSON(s *scanner) bool {
	return s.object(gridSummaryNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "id":
			return s.str(&g.ID)
		case "name":
			return s.str(&g.Name)
		case "description":
			return s.str(&g.Description)
		case "row_count":
			return s.integer(&g.RowCount)
		case "column_count":
			return s.integer(&g.ColumnCount)
		case "created_at":
			return s.time(&g.CreatedAt)
		case "updated_at":
			return s.time(&g.UpdatedAt)
		}
		return s.skip(1)
	})
}

func (g *Grid) decodeJSON(s *scanner) bool {
	return s.object(gridNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "id":
			return s.str(&g.ID)
		case "name":
			return s.str(&g.Name)
		case "description":
			return s.str(&g.Description)
		case "settings":
			return g.Settings.decodeJSON(s)
		case "columns":
			return array(s, &g.Columns, func(c *Column) bool { return c.decodeJSON(s) })
		case "row_count":
			return s.integer(&g.RowCount)
		case "created_at":
			return s.time(&g.CreatedAt)
		case "updated_at":
			return s.time(&g.UpdatedAt)
		}
		return s.skip(1)
	})
}

func (gs *GridSettings) decodeJSON(s *scanner) bool {
	return s.object(gridSettingsNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "row_limit":
			return s.integer(&gs.RowLimit)
		case "auto_run":
			return s.boolean(&gs.AutoRun)
		case "visibility":
			return s.enum((*string)(&gs.Visibility), visibilities)
		}
		return s.skip(1)
	})
}

func (c *Column) decodeJSON(s *scanner) bool {
	return s.object(columnNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "id":
			return s.str(&c.ID)
		case "name":
			return s.str(&c.Name)
		case "type":
			return s.enum((*string)(&c.Type), columnTypes)
		case "is_input":
			return s.boolean(&c.IsInput)
		case "is_output":
			return s.boolean(&c.IsOutput)
		case "required":
			return s.boolean(&c.Required)
		}
		return s.skip(1)
	})
}

// decodeEnvelope decodes a {"success":…,"data":…,"error":…} body, the data
// into v, which is zero, and sets *success as encoding/json would decode
// that field into a *bool. It reports whether it could.
func decodeEnvelope(body []byte, v handDecoder, success **bool) bool {
	s := scanner{buf: body}
	data := false
	ok := s.object(envelopeNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "success":
			if s.literal("null") {
				*success = nil
				return true
			}
			b := new(bool)
			*success = b
			return s.boolean(b)
		case "data":
			if s.literal("null") {
				return true
			}
			if data {
				return false // given twice: encoding/json would merge them
			}
			data = true
			return v.decodeJSON(&s)
		}
		return s.skip(1)
	})
	s.space()
	return ok && s.pos == len(s.buf)
}

// scanErrorEnvelope decodes an error body, {"error":{...}} or
// {"error":"..."}, by hand, as decodeErrorEnvelope does with encoding/json.
// sure is false when it gave up, and encoding/json must decide.
func scanErrorEnvelope(body []byte) (e *errorBody, ok, sure bool) {
	s := scanner{buf: body}
	var msg string
	seen, isString := false, false
	parsed := s.object(errorEnvelopeNames, func(name []byte) bool {
		if string(name) != "error" {
			return s.skip(1)
		}
		if seen {
			return false // given twice: encoding/json would merge them
		}
		seen = true
		if s.literal("null") {
			return true
		}
		if s.pos < len(s.buf) && s.buf[s.pos] == '"' {
			isString = true
			return s.str(&msg)
		}
		e = new(errorBody)
		return e.decodeJSON(&s)
	})
	s.space()
	switch {
	case !parsed || s.pos != len(s.buf):
		return nil, false, false
	case isString:
		if msg == "" {
			return nil, false, true
		}
		return &errorBody{Message: msg}, true, true
	case e == nil || e.Code == "" && e.Message == "":
		return nil, false, true
	}
	return e, true, true
}

func (b *errorBody) decodeJSON(s *scanner) bool {
	return s.object(errorBodyNames, func(name []byte) bool {
		switch string(name) { // no copy: only compared
		case "code":
			return s.str(&b.Code)
		case "message":
			return s.str(&b.Message)
		case "details":
			s.space()
			start := s.pos
			if !s.skip(1) {
				return false
			}
			b.Details = append(b.Details[:0], s.buf[start:s.pos]...)
			return true
		}
		return s.skip(1)
	})
}

// The names each type decodes, for object.
var (
	envelopeNames      = []string{"success", "data", "error"}
	errorEnvelopeNames = []string{"error"}
	errorBodyNames     = []string{"code", "message", "details"}
	gridListNames      = []string{"grids", "total"}
	gridSummaryNames   = []string{"id", "name", "description", "row_count", "column_count", "created_at", "updated_at"}
	gridNames          = []string{"id", "name", "description", "settings", "columns", "row_count", "created_at", "updated_at"}
	gridSettingsNames  = []string{"row_limit", "auto_run", "visibility"}
	columnNames        = []string{"id", "name", "type", "is_input", "is_output", "required"}
)
