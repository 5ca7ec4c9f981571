package bitscale

import (
	"math"
	"testing"
	"time"
)

func TestPollOptionsDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   *PollOptions
		want PollOptions
	}{
		{nil, PollOptions{Interval: DefaultPollInterval, Multiplier: DefaultPollMultiplier, MaxInterval: DefaultPollMaxInterval, Jitter: DefaultPollJitter}},
		{&PollOptions{Interval: time.Second, Multiplier: 1, Jitter: -1}, PollOptions{Interval: time.Second, Multiplier: 1, MaxInterval: DefaultPollMaxInterval, Jitter: 0}},
		{&PollOptions{Interval: time.Minute, Multiplier: math.NaN(), Jitter: math.NaN()}, PollOptions{Interval: time.Minute, Multiplier: DefaultPollMultiplier, MaxInterval: time.Minute, Jitter: DefaultPollJitter}},
		{&PollOptions{Multiplier: math.Inf(1), Jitter: 2}, PollOptions{Interval: DefaultPollInterval, Multiplier: DefaultPollMultiplier, MaxInterval: DefaultPollMaxInterval, Jitter: DefaultPollJitter}},
	} {
		if got := tc.in.withDefaults(); got.Interval != tc.want.Interval || got.Multiplier != tc.want.Multiplier ||
			got.MaxInterval != tc.want.MaxInterval || got.Jitter != tc.want.Jitter {
			t.Errorf("withDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if d := jitter(time.Second, 0); d != time.Second {
		t.Errorf("no jitter gave %s", d)
	}
}
