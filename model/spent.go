package model

// SpentError is the error of a call that failed but cost something first
// (each layer adds what it spent itself, so nothing is counted twice):
// a similarity lookup's embedding, paid before the call was refused (a
// budget stop) or failed outright. Usage is what was spent, and whose
// (Agent, Deployment), so the run counts it (team puts it on the
// run_finished event) and the run's totals equal what the budgets were
// charged.
type SpentError struct {
	Err        error
	Usage      Usage
	Agent      string
	Deployment string
}

func (e *SpentError) Error() string { return e.Err.Error() }

// Unwrap returns the call's error: errors.Is and errors.As see through.
func (e *SpentError) Unwrap() error { return e.Err }

// WithSpent returns err carrying the usage u of the request req (its agent
// and deployment) on top of what err already carries; nil when err is nil,
// err itself when u is zero.
func WithSpent(err error, u Usage, req *Request) error {
	if err == nil || u == (Usage{}) {
		return err
	}
	// Spent counts a branch to its first SpentError: this one holds what
	// err carried already.
	below, _, _ := Spent(err)
	e := &SpentError{Err: err, Usage: u.Add(below)}
	if req != nil {
		e.Agent, e.Deployment = req.Meta.Agent, req.Model
	}
	return e
}

// Spent returns what the failed calls behind err cost: the sum over the
// SpentErrors in err's tree (each branch counted to its first SpentError,
// which holds what lies below it), and the agent and deployment of the
// first.
func Spent(err error) (u Usage, agent, deployment string) {
	first := true
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *SpentError:
			u = u.Add(x.Usage)
			if first {
				agent, deployment, first = x.Agent, x.Deployment, false
			}
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return u, agent, deployment
}
