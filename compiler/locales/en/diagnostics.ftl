# Centralino compiler diagnostics, English.
#
# Each problem is a message (what is wrong) with a `.label` (what the marked text is) and a
# `.help` (what to do). Every message here has an Italian twin in ../it/diagnostics.ftl with the
# same variables (a test checks it). Variables: `code` for things written in flow files, so
# they are never translated. `{"{"}` and `{"}"}` write a brace.

## Words shared by many messages

severity-error = error
severity-warning = warning
help-prefix = help: { $help }
list-or = { $init } or { $last }
something-else = something else
did-you-mean = did you mean { $names }?
summary-none = no problems found
summary-errors = { $errors ->
    [one] 1 error
   *[other] { $errors } errors
}
summary-warnings = { $warnings ->
    [one] 1 warning
   *[other] { $warnings } warnings
}
summary-both = { $errors }, { $warnings }
found-end = the end of the file

## Kinds of names (`gender` is for languages whose words agree with it)

kind-state = state
    .gender = m
kind-flow = flow
    .gender = m
kind-calendar = calendar
    .gender = m
kind-office = office
    .gender = m
kind-category = ticket category
    .gender = f
kind-service = service
    .gender = m
kind-prompt = prompt
    .gender = m
kind-function = function
    .gender = f
kind-variable = variable
    .gender = f
kind-language = language
    .gender = f
kind-holiday-set = holiday set
    .gender = m
kind-priority = priority
    .gender = f

## What the flow grammar expected (E001)

rule-end = the end of the file
rule-name = a name
rule-text = a text in double quotes
rule-int = a whole number
rule-duration = a duration such as `6s`, `20m` or `5d`
rule-time = a time range such as `08:30-13:30`
rule-date = a date such as `2026-12-24` or `01-29`
rule-key = a key (0-9, * or #)
rule-days = days such as `mon-fri`
rule-closure = a closure such as `holidays italy`, `easter+1`, `01-29` or `2026-12-24`
rule-definition = a definition (`flow`, `office`, `calendar`, `category`, `service`, `prompt` or `import`)
rule-action = an action such as `say`, `menu`, `collect`, `transfer` or `hangup`
rule-state = a state such as `menu: ...`
rule-branches = a block of branches `{"{"} 1 -> state ... {"}"}`
rule-branch = a branch such as `1 -> state`
rule-prompt = a prompt: text in quotes, `file "..."` or a prompt name
rule-expression = an expression
rule-comparison = a comparison (`==`, `!=`, `<`, `>`, ...)
rule-sign = `+` or `-`
rule-field = a field such as `via: via_code`
rule-prompt-texts = prompt texts such as `it "..."`

## What the flow-test grammar expected (E031)

scenario-rule-scenario = `scenario "name" {"{"} ... {"}"}`
scenario-rule-statement = another line such as `press 1 2` or `expect ...`
scenario-rule-keys = keys (0-9, * and #), `wait`, `hangup` or `booking`
scenario-rule-expectation = what to expect: `say "..."`, `ticket`, `callback`, `booking`, `cancelled`, `transfer`, `queue`, `recording`, `conference`, `state`, `hangup` or `language`
scenario-rule-answer = an answer: `answered`, `busy`, `noanswer`, `failed` (or, for a queue, `timeout`)
scenario-rule-returns = `returns ...` or `fails`
scenario-rule-json = an answer in JSON such as `{"{"} "testo": "..." {"}"}`, or a text in quotes
scenario-rule-field = a field such as `via: "123"`
scenario-rule-state-ref = a state such as `main.menu`

## Problems

e001 = this line does not read as flow language: expected { $expected }
    .label = found { $found }
    .help = check the spelling and the order of the words; docs/language.md has an example of every construct

e036-curly-quote = this text is in curly quotes, as a word processor writes them
    .label = curly quote
    .help = use straight quotes ": write `"Benvenuto"`, not “Benvenuto”; copy flow files with a plain text editor
e036-single-quote = texts are written in double quotes, not single quotes
    .label = single quote
    .help = use straight double quotes ": write `"Benvenuto"`, not `'Benvenuto'`
e036-accented-name = the name `{ $name }` has an accented letter
    .label = accented letter
    .help = names are written without accents (letters a-z, digits and `_`): write `{ $plain }`; texts in quotes may have accents
e036-missing-colon = the state name `{ $state }` needs a `:` after it
    .label = `:` missing here
    .help = write the state as `{ $state }: ...`, e.g. `{ $state }: say "..." -> next`
e036-duration-without-unit = the duration `{ $number }` has no unit
    .label = seconds, minutes, hours or days?
    .help = write the unit right after the number: `{ $number }s` (seconds), `{ $number }m` (minutes), `{ $number }h` (hours) or `{ $number }d` (days)
e036-italian-day = days are written in English: `{ $day }` is `{ $english }`
    .label = day in Italian
    .help = write `{ $english }`; the days are `mon`, `tue`, `wed`, `thu`, `fri`, `sat` and `sun`, e.g. `mon-fri 08:30-13:30`

e037-unclosed-brace = the `{"{"}` opened at line { $line }{ $owner } is never closed
    .label = opened here
    .help = add a `{"}"}` where the block ends, indented like the line that opens it
e037-closer = this `{"}"}` closes the block around it, not this one
e037-unclosed-text = this text, opened at line { $line }, is never closed
    .label = the text starts here
    .help = end the text with `"` on the same line; a `"` inside a text is written `\"`
e037-text-end = the text runs on to here
e037-extra-brace = one `{"}"}` too many: it closes nothing
    .label = nothing left to close
    .help = remove the `{"}"}` that is too many: this one, or the one above that closes the block too early
e037-already-closed = the `{"{"}`{ $owner } is already closed here
owner-definition = for { $keyword } `{ $name }`
owner-menu = for the menu of `{ $state }`
owner-branches = for the branches of `{ $state }`
owner-fields-of = for the fields of `{ $state }`
owner-fields = for the fields

e002 = unknown { $what } `{ $name }`
    .label = no { $what } is called `{ $name }`
e002-help = define the { $what } or correct the name
e002-help-language = write a language as two lowercase letters, e.g. `it` or `en`
e002-help-priority = a priority is `low`, `normal`, `high` or `urgent`
e002-help-holiday-set = the built-in holiday set is `italy`
e002-help-function = the functions are `open`, `closed`, `holiday`, `available`, `starts_with` and `len`

e003 = { $what } `{ $name }` is defined twice
    .label = defined again here
    .help = rename one of them, or remove the copy
e003-first = first defined here

e004 = key `{ $key }` is used twice in this menu
    .label = used again here
    .help = each key can lead to one place only; pick another key
e004-first = first used here

e040 = `{ $action }` has its `{ $option }` option twice
    .label = { $option ->
        [first] said again here
       *[other] written again here
    }
    .help = { $option ->
        [first] write either `citizen first` or `staff first` (the default), once
       *[other] keep one `{ $option }` and remove the other
    }
e040-first = { $option ->
    [first] who is called first is already said here
   *[other] first written here
}

e005-same-flow = flow `{ $flow }` lists number "{ $number }" twice
    .label = listed again here
    .help = numbers are compared by their digits, so `+39 075 075075` and `075075075` are the same; remove the repeat
e005-same-flow-first = first listed here
e005 = number "{ $number }" is answered by two flows, `{ $previous }` and `{ $flow }`
    .label = also answered by flow `{ $flow }`
    .help = a number is answered by one flow only; remove it from one of the two (numbers are compared by their digits)
e005-first = answered by flow `{ $previous }`

e006 = state `{ $state }` has no way on
    .label = after this `{ $action }` the call has nowhere to go
    .help = add { $needs }, or end the call with `-> hangup`
needs-else-condition = `else -> state` for when no condition holds
needs-next = `-> state` to say where the call goes next
needs-else-failure = `else -> state` for when it does not succeed
needs-branches = branches for the keys, e.g. `{"{"} 1 -> state  timeout, invalid -> state {"}"}` with states of this flow

e007 = these states go round in a loop without waiting for the caller: { $states }
    .label = the loop starts here
    .help = put a `menu`, `collect` or `record` in the loop, so the caller decides when it goes round again
e007-part = part of the loop

e008 = too many retries: a caller is asked again at most { $max } times
    .label = too many retries
    .help = use `retries N` with N at most { $max }, then send the caller somewhere useful with a `timeout`/`invalid` branch

e009 = this menu has no { $missing ->
    [both] `timeout` or `invalid` branch
    [timeout] `timeout` branch
   *[invalid] `invalid` branch
}
    .label = a caller who presses nothing or a wrong key is stuck here
    .help = add for example `timeout, invalid -> { $example }` to the menu's branches

e010 = audio file "{ $path }" does not exist
    .label = file not found
    .help = paths are relative to the flow file; check the name, or use a text prompt

e011 = audio file "{ $path }" cannot be played: { $reason }
    .label = this file does not decode
    .help = export it again as WAV (PCM), MP3, FLAC or Ogg Vorbis

e012 = the text of this prompt has a template error: { $error }
    .label = template error
    .help = variables are written `{"{{"} name {"}}"}`; check that every `{"{{"}` has its `{"}}"}`
template-expected-close = expected `{"}}"}` to close the `{"{{"}`
template-expected-block-end = expected `%{"}"}`
template-input-ends = the text ends
template-unexpected-close = unexpected `{"}}"}`
template-unexpected = unexpected { $token }

e013 = variable `{ $name }` is never set
    .label = undefined variable
e013-help = set it first (`set`, `collect ... into`), or use a built-in such as `caller`

e035 = template filter `{ $name }` does not exist
    .label = unknown filter
e035-help = filters change a value as it is spoken, e.g. `{"{{"} booking.ref | spell {"}}"}`; docs/language.md#templates lists them

e014 = this range ends before it starts
    .label = end is not after start
    .help = write the earlier time or date first, e.g. `08:30-13:30` or `2026-08-10..2026-08-14`

e015 = opening hours overlap on { $day }
    .label = overlapping range
    .help = merge the two ranges into one, or correct the times
e015-other = overlaps this range

e016 = unknown time zone "{ $name }"
    .label = not a time zone name
e016-help = use an IANA time zone name such as "Europe/Rome"

e017 = this `{ $action }` does not say where the call goes when nobody answers
    .label = what happens when nobody answers?
    .help = add `else -> state` for when the office is closed, busy or does not answer (a callback is a good choice)

e018 = cannot import "{ $path }": { $reason }
    .label = file not found
    .help = imports are relative to the importing file

e019 = this pattern is not a valid regular expression
    .help = a pattern such as "[0-9]{"{"}5{"}"}" accepts five digits

e020 = digits { $min }..{ $max } is not a valid range
    .label = invalid range
    .help = write the smaller number first, between 1 and 32, e.g. `digits 1..4`

e021 = a `{ $action }` never ends with `{ $branch }`
    .label = not possible after `{ $action }`
    .help = after a `{ $action }` the call can go on with { $expected }

e022 = { $what } out of range
    .label = value out of range
    .help = { $what } must be { $allowed }
what-timeout = timeout
what-ring = ring time
what-max-wait = maximum wait
what-max-recording = maximum recording length
what-webhook-timeout = webhook timeout
what-max-duration = maximum call duration
what-slot = slot length
what-sla = SLA
what-max-visits = max visits
what-capacity = capacity
what-offer = number of times offered
what-end-key = end key
what-easter = distance from Easter
allowed-between = between { $min } and { $max }
allowed-end-key = `#` or `*`
allowed-easter = at most { $max } days, from `easter-{ $max }` to `easter+{ $max }`
allowed-slot-missing = set: add for example `slot 30m` (between { $min } and { $max })

e023 = `{ $text }` is not a valid date or time
    .label = no such date or time
    .help = dates are written YYYY-MM-DD or MM-DD, times HH:MM from 00:00 to 24:00

e024 = flow `{ $flow }` answers a number, so it cannot `return`
    .label = nothing to return to
    .help = end the call with `hangup`, or move these states into a sub-flow that others `call`

e025 = flow `{ $flow }` has no states
    .label = empty flow
    .help = add at least one state, e.g. `start: say "..." -> hangup`

e026 = wrong arguments to `{ $function }`
    .label = wrong arguments
    .help = `{ $function }` takes { $takes }
takes-calendar = one calendar name, e.g. `{ $function }(uffici)`
takes-office = one office name, e.g. `available(anagrafe)`
takes-two-texts = two texts, e.g. `starts_with(caller, "+39")`
takes-text = one text, e.g. `len(caller)`

e027 = `{ $name }` is a reserved name
    .label = reserved
    .help = `-> { $name }` already has a meaning; give this state another name

e028 = office `{ $office }` { $lack ->
    [staff] has no staff to ring
    [appointments] does not take appointments
   *[hours] has no opening hours
}
    .label = used here
    .help = { $lack ->
        [staff] add `staff "sip:..."` lines to the office
        [appointments] add `appointments 20m` (slot length) to the office
       *[hours] add `hours calendar_name` to the office
    }
e028-office = office `{ $office }` is defined here

e029 = sub-flows call each other in a loop: { $flows }
    .label = this call closes the loop
    .help = use `return` to go back instead of calling the caller again

e030 = prompt `{ $prompt }` has no `{ $language }` text
    .label = used here
e030-help = add a variant for `{ $language }` to the prompt
e030-help-fallback = add a variant for `{ $language }` to the prompt (it has { $available }), or set `fallback` on the flow

e031 = this line does not read as a flow test: expected { $expected }
    .label = found { $found }
e031-help = a scenario reads `scenario "name" {"{"} call "075075075" ... press 1 ... expect say "..." {"}"}`; docs/language.md#flow-tests lists every line

e032-label = not in the flows
e032-number = no flow answers "{ $name }"
    .help = call a number written in a flow's `answers`
e032-category = unknown ticket category `{ $name }`
    .help = use the name of a `category` of the flows
e032-office = unknown office `{ $name }`
    .help = use the name of an `office` of the flows
e032-bookable = nothing called `{ $name }` can be booked
    .help = name an office with `appointments`, or a `service`
e032-flow = unknown flow `{ $name }`
    .help = write the state as `flow.state`, e.g. `main.menu`
e032-state = flow `{ $flow }` has no state `{ $name }`
    .help = use a state of flow `{ $flow }`
e032-priority = unknown priority `{ $name }`
    .help = a priority is `low`, `normal`, `high` or `urgent`
e032-field = tickets of category `{ $category }` have no field `{ $name }`
    .help = use a field that the flows' `ticket { $category } with {"{"} ... {"}"}` fill in
e032-language = no prompt is written in language `{ $name }`
    .help = write a language as two lowercase letters, e.g. `it` or `en`
e032-contact = no office has staff "{ $name }"
    .help = copy the contact from a `staff` line, or name the office: `absent anagrafe`
e032-webhook = no webhook of the flows has "{ $name }" in its address
    .help = use a part of the address written after `webhook` in the flows

e033-time = "{ $text }" is not a date and time: { $reason }
    .label = cannot read this
    .help = write the time of the call as "2026-11-24 10:00" (Rome time), or add a zone: "2026-11-24 09:00Z", "2026-11-24 10:00+01:00"
e033-json = the webhook answer is not valid JSON: { $reason }
    .label = cannot read this
    .help = write the answer as JSON, e.g. `returns {"{"} "allerta": "gialla" {"}"}`, or as text in quotes: `returns "Scuole chiuse"`

e034-no-call = this scenario makes no call
    .label = no `call` line
    .help = add a line such as `call "075075075" at "2026-11-24 10:00"`
e034-call-twice = a scenario makes one call only
    .label = a second call
    .help = write the second call as a scenario of its own
e034-call-twice-first = the call of this scenario
e034-answer-twice = how the { $what } answers is said twice
    .label = said again here
    .help = keep one answer; to try another, write another scenario
e034-answer-twice-first = first answer
e034-no-expectation = this scenario expects nothing, so it can never fail
    .label = no `expect` line
    .help = add what must happen, e.g. `expect say "..."`, `expect ticket buche` or `expect hangup`
e034-duplicate-name = two scenarios are called "{ $name }"
    .label = used again here
    .help = give each scenario its own name, so a failure points to one
e034-duplicate-name-first = first used here

e038 = there is no flow: no call would be answered
    .label = no `flow` in any file
    .help = write at least the main flow, e.g. `flow main answers "075075075" {"{"} benvenuto: say "Buongiorno" -> hangup {"}"}`

e039 = the { $kind ->
    [staff] staff address
    [number] number
    [pin] PIN
   *[webhook] webhook address
} "{ $text }" { $fault ->
    [space] has a space in it
    [backwards] has `{ $written }` where `sip:` goes, at the start
    [no-scheme] { $kind ->
        [webhook] does not start with `https://` or `http://`
       *[other] does not start with `sip:`
    }
    [no-at] has no `@` between the extension and the host
    [no-user] has no extension before the `@`
    [no-host] has no host name
    [not-digits] may only have digits
    [no-digits] has no digits
   *[plus-inside] has a `+` that is not at the start
}
    .label = { $fault ->
        [space] space
        [backwards] `sip:` written backwards
        [no-scheme] { $kind ->
            [webhook] `https://` missing
           *[other] `sip:` missing
        }
        [no-at] `@` missing
        [no-user] extension missing
        [no-host] host missing
        [not-digits] not only digits
        [no-digits] no digits
       *[plus-inside] `+` out of place
    }
    .help = { $kind ->
        [staff] a staff address is written `sip:EXTENSION@HOST`, with no spaces, e.g. `staff "sip:201@comune.perugia.it"`
        [number] a number has digits, optionally a `+` at the start, spaces, `-`, `.`, `/` or brackets, e.g. `answers "075 075 075"`
        [pin] a PIN is digits only, as the caller types them, e.g. `pin "1234"`
       *[webhook] a webhook address is a web address starting with `https://` (or `http://`), e.g. `webhook "https://servizi.comune.perugia.it/avvisi"`
    }

w001 = state `{ $state }` can never be reached
    .label = unreachable
    .help = send a caller here with `-> name` from another state, or remove it

w002 = { $what } `{ $name }` is never used
    .label = unused
    .help = use it in a flow, or remove it

w003 = calendar `{ $calendar }` has no time zone; Europe/Rome is assumed
    .label = no `timezone` line
    .help = add `timezone "Europe/Rome"` to make it explicit

w004 = no flow answers a phone number
    .label = nothing answers
    .help = add `answers "number"` to the main flow, e.g. `flow main answers "075075075" {"{"} ... {"}"}`

w005 = `ring all` rings the staff of `{ $office }` at once, but it has only one person
    .label = nobody else to ring
    .help = add the other people of the office as `staff` lines, or write `ring 20s` to ring in turn
w005-office = office `{ $office }` has one `staff` line

w006 = the file `{ $file }` defines nothing: it is empty or has only comments
    .label = nothing here
    .help = write its flows or definitions, or remove the file; if a word processor saved it, save it again as plain text
