package demo

// Pause and Resume let the browser tests take the page's server away under an open page and bring it back.
func Pause(d *Demo)        { d.pause() }
func Resume(d *Demo) error { return d.resume() }
