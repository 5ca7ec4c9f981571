package bitscale

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strings"
)

// apiError returns the *APIError for a non-2xx answer whose body was read,
// without the API key should the server have echoed it: the bytes are
// redacted, and so are the decoded strings, in which JSON escapes such as
// \u0062 may have spelled the key differently.
func (c *core) apiError(method, path string, resp *http.Response, body []byte, rl RateLimit) *APIError {
	e := newAPIError(resp, c.redact(body), rl)
	e.Method, e.Path = method, path
	key := *c.key
	e.Code = strings.ReplaceAll(e.Code, key, redacted)
	e.Message = strings.ReplaceAll(e.Message, key, redacted)
	redactValue(e.Details, key)
	return e
}

// redactValue returns v, a decoded JSON value, with key replaced in every
// string it holds, map keys included; maps and slices are changed in place.
func redactValue(v any, key string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, key, redacted)
	case []any:
		for i, e := range v {
			v[i] = redactValue(e, key)
		}
	case map[string]any:
		var echoed []string
		for k, e := range v {
			v[k] = redactValue(e, key)
			if strings.Contains(k, key) {
				echoed = append(echoed, k)
			}
		}
		for _, k := range echoed { // renamed after the loop, which must not meet them again
			v[strings.ReplaceAll(k, key, redacted)] = v[k]
			delete(v, k)
		}
	}
	return v
}

// maxPresize bounds the buffer allocated from a Content-Length before any
// byte arrives.
const maxPresize = 16 << 20

// readLimited reads at most limit bytes of resp.Body into a buffer sized
// from Content-Length when the server sent one, so that a large body is held
// once, not grown by copying. A longer body gives its first limit bytes and
// an error matching ErrResponseTooLarge. It does not close the body.
func readLimited(resp *http.Response, limit int64) ([]byte, error) {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil, nil // HEAD, 204, 304: a Content-Length, but no body
	}
	limit = min(limit, math.MaxInt64-1) // so that limit+1 cannot overflow
	// Content-Length sizes the buffer, up to a bound: it is a claim, and
	// the bytes may never come.
	if n := resp.ContentLength; n >= 0 && n <= min(limit, maxPresize) {
		buf := make([]byte, n)
		k, err := io.ReadFull(resp.Body, buf)
		return buf[:k], err
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(resp.Body, limit+1))
	if int64(b.Len()) > limit {
		// The part read is returned: enough for an error's excerpt.
		return b.Bytes()[:limit], fmt.Errorf("%w: more than %d bytes", ErrResponseTooLarge, limit)
	}
	return b.Bytes(), err
}

// decode decodes a 2xx body into v. It unwraps a {"success":…,"data":…}
// envelope, which the body is taken to be when decoding it directly leaves v
// empty, and turns {"success":false,"error":…} into an *APIError with rl,
// the rate limit the answer reported.
func (c *Client) decode(resp *http.Response, body []byte, v any, rl RateLimit) error {
	switch v := v.(type) {
	case nil:
		return nil
	case io.Writer:
		_, err := v.Write(body)
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if resp.StatusCode == http.StatusNoContent {
			return nil
		}
		return errors.New("empty body where JSON was expected")
	}
	if err := unmarshal(body, v); err != nil {
		return err
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() || !rv.Elem().IsZero() {
		return nil
	}
	env := struct {
		Success *bool           `json:"success"`
		Data    any             `json:"data"`
		Error   json.RawMessage `json:"error"`
	}{Data: v}
	if h := handDecoderOf(v); h == nil || !decodeEnvelope(body, h, &env.Success) {
		if h != nil { // back to the zero value the hand decoder was given
			reflect.ValueOf(v).Elem().SetZero()
			env.Success = nil
		}
		if err := unmarshal(body, &env); err != nil {
			return err
		}
	}
	if env.Success != nil && !*env.Success {
		return c.core.apiError(resp.Request.Method, resp.Request.URL.EscapedPath(), resp, body, rl)
	}
	return nil
}

// unmarshal decodes body into v, a grid or grid list by hand when it can
// (see handDecoder). A number too large for a float64 in an
// interface value, such as a run's outputs, does not lose the whole answer:
// the body is decoded again keeping such numbers as json.Number, and the
// others as float64. Only an answer with such a number pays for it.
func unmarshal(body []byte, v any) error {
	if h := handDecoderOf(v); h != nil {
		// Only into a zero value: encoding/json merges a body into the
		// value it finds, and the hand decoder does not.
		if rv := reflect.ValueOf(v); !rv.IsNil() && rv.Elem().IsZero() {
			if decodeHand(body, h) {
				return nil
			}
			rv.Elem().SetZero()
		}
	}
	err := json.Unmarshal(body, v)
	if err == nil || !tooBigNumber(err) {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	floatNumbers(reflect.ValueOf(v))
	return nil
}

// tooBigNumber reports whether err is encoding/json's for a number that
// did not fit the value it was decoded into. It is apart from unmarshal so
// that only an error pays for the target errors.As needs.
func tooBigNumber(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te) && strings.HasPrefix(te.Value, "number")
}

// floatNumbers turns the json.Number values held in interfaces within v
// into float64 where they fit, so that only the numbers a float64 cannot
// hold stay json.Number.
func floatNumbers(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if f, ok := fitFloat(v); ok {
			if v.CanSet() {
				v.Set(f)
			}
			return
		}
		floatNumbers(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				floatNumbers(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			floatNumbers(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			// A map's values cannot be set in place: they are stored anew.
			if f, ok := fitFloat(it.Value()); ok {
				v.SetMapIndex(it.Key(), f)
				continue
			}
			floatNumbers(it.Value())
		}
	}
}

// fitFloat returns the float64 of an interface value holding a json.Number
// that fits one.
func fitFloat(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() != reflect.Interface || v.IsNil() {
		return reflect.Value{}, false
	}
	n, ok := v.Elem().Interface().(json.Number)
	if !ok {
		return reflect.Value{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return reflect.Value{}, false
	}
	return reflect.ValueOf(f), true
}

// redacted replaces the API key wherever the server echoed it.
const redacted = "[redacted]"

// redact removes the API key from a body, in case the server echoed it
// back in an error; done on the bytes, before any of it is cut or parsed.
func (c *core) redact(body []byte) []byte {
	key := []byte(*c.key)
	if !bytes.Contains(body, key) {
		return body
	}
	return bytes.ReplaceAll(body, key, []byte(redacted))
}
