//go:build race

package runtime

// raceEnabled is true when the tests run under the race detector, which
// makes them several times slower: the randomized tests run fewer cases.
const raceEnabled = true
