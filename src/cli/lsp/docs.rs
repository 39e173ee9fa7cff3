//! What the editor shows on hover: one short line or two per keyword and construct of
//! the flow language, in the words of docs/language.md. All the wording lives here.

/// The doc of a keyword (or built-in function, or built-in target), in Markdown.
pub fn keyword(word: &str) -> Option<&'static str> {
    let doc = match word {
        "import" => {
            "`import \"file.flow\"`: this file uses definitions from another file. The path is relative to the file that imports it."
        }
        "calendar" => {
            "`calendar NAME { ... }`: says when something is open: a time zone, weekly opening hours, and closing days."
        }
        "timezone" => "`timezone \"Europe/Rome\"`: the calendar's time zone, an IANA name.",
        "closed" => {
            "In a calendar, `closed ...` is a closing day: `holidays italy`, a month-day `01-29`, `easter+1`, a date `2026-12-24` or a range `2026-08-10..2026-08-14`, each with an optional description in quotes.\n\nIn an expression, `closed(CALENDAR)` holds when the calendar is closed now."
        }
        "holidays" => "`closed holidays italy`: Italian national holidays.",
        "easter" => {
            "`closed easter+1`: days after Easter Sunday (`easter` itself, `easter-2` for Good Friday)."
        }
        "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun" => {
            "A day of weekly hours. Write a span with `-` (`mon-fri`) and a list with `,` (`tue, thu`); times are 24-hour `HH:MM`. Days not listed are closed."
        }
        "office" => {
            "`office NAME \"Title\" { ... }`: a team the caller can be put through to, call back, or book an appointment with."
        }
        "hours" => "`hours CALENDAR`: when the office (or the service) is open.",
        "staff" => {
            "`staff \"sip:...\" as \"Name\"`: one line per person or desk; the name is what the person sees on their phone. A call is offered only to staff who are present; they are tried in turn."
        }
        "as" => "`staff \"sip:...\" as \"Name\"`: the name the person sees on their phone.",
        "ring" => {
            "`ring 20s`: how long each phone rings before the next is tried. `ring all` rings every present person of the office at once."
        }
        "all" => {
            "`ring all`: rings every present person of the office at once instead of one after the other; the first to answer gets the call."
        }
        "appointments" => {
            "`appointments 20m capacity 2`: the office receives by appointment; each lasts 20 minutes and two citizens can be seen at the same time."
        }
        "capacity" => "`capacity N`: appointments (or bookings) per slot.",
        "category" => {
            "`category NAME \"Title\" { office ... priority ... sla ... }`: a kind of problem citizens report by phone; each report becomes a ticket in that category."
        }
        "priority" => "`priority`: `low`, `normal`, `high` or `urgent`.",
        "sla" => "`sla 5d`: how soon someone must take the ticket in hand.",
        "service" => {
            "`service NAME \"Title\" { office ... hours ... slot ... capacity ... }`: something citizens book in time slots, like a home pickup."
        }
        "slot" => "`slot 60m`: the length of one bookable slot.",
        "prompt" => {
            "`prompt NAME { it \"...\" en \"...\" }`: something the caller hears, defined once with a name, with one version per language."
        }
        "file" => {
            "`file \"prompts/bip.wav\"`: an audio recording, relative to the `.flow` file (WAV, MP3, FLAC, Ogg Vorbis)."
        }
        "flow" => {
            "`flow NAME answers \"NUMBER\" { ... }`: what happens on a call. A flow with `answers` is an entry flow; one without is a sub-flow, run by `call`."
        }
        "answers" => {
            "`answers \"075075075\"`: the numbers this flow answers, as the phone system delivers them. A number may be answered by only one flow."
        }
        "language" => {
            "`language it fallback en`: the language a call starts in, and the one used when a prompt has no version in the current language."
        }
        "fallback" => {
            "`fallback en`: the language used when a prompt has no version in the current one."
        }
        "max" => {
            "`max duration 20m`: the call is ended politely after this long. `max visits 6`: no state is visited more than this many times in one call. `max wait 4m` (queue), `max 2m` (record)."
        }
        "duration" => "`max duration 20m`: the call is ended politely after this long.",
        "visits" => {
            "`max visits 6`: no state is visited more than this many times in one call; it stops a caller going round a loop for ever."
        }
        "say" => "`say PROMPT`: speaks a text prompt.",
        "play" => "`play PROMPT`: plays an audio prompt.",
        "menu" => {
            "`menu PROMPT timeout 7s retries 3 { 1 -> a  timeout, invalid -> b }`: speaks a prompt and waits for one key. It needs a branch for each key offered, and both `timeout` and `invalid`."
        }
        "timeout" => {
            "`timeout 7s`: how long to wait. As a branch label: no key was pressed (or the system did not answer in time)."
        }
        "retries" => {
            "`retries 3`: how many times the prompt is repeated after a timeout or a wrong key (at most 5)."
        }
        "unlimited" => "`retries unlimited` is not allowed: at most 5 retries.",
        "collect" => {
            "`collect PROMPT into NAME digits 1..4 end \"#\"`: speaks a prompt and collects several keys into a variable, e.g. a code or a house number."
        }
        "into" => "`into NAME`: the variable that receives the result.",
        "digits" => "`digits 1..4`: at least 1, at most 4 digits (`digits 5` means exactly 5).",
        "end" => "`end \"#\"`: the key that ends the input early (`#` or `*`).",
        "pattern" => "`pattern \"^[0-9]{5}$\"`: a regular expression the input must match.",
        "set" => {
            "`set NAME = VALUE`: stores a value in a variable. Setting `language` switches the language of the rest of the call."
        }
        "if" => {
            "`if CONDITION -> a else if ... -> b else -> c`: chooses a state by testing conditions in order; the first that holds wins. The chain must end with `else ->`."
        }
        "else" => {
            "`else -> target`: where the call goes when the action fails (the office does not answer, no slot is free, the caller types nothing, ...)."
        }
        "goto" => "`goto STATE`: goes to another state, doing nothing else.",
        "call" => {
            "`call FLOW -> next`: runs a sub-flow; when the sub-flow reaches `return`, the call continues at the `->` target."
        }
        "return" => "`return`: go back to the flow that called this one (only in sub-flows).",
        "transfer" => {
            "`transfer OFFICE ring 30s else -> x`: puts the caller through to an office; its present staff are rung in turn. `else` is required: taken when the office is closed, nobody answers, or everyone is busy."
        }
        "queue" => {
            "`queue OFFICE music PROMPT max wait 4m announce position else -> x`: puts the caller on hold until someone in the office is free."
        }
        "music" => "`music PROMPT`: played while the caller waits in the queue.",
        "wait" => "`max wait 4m`: the longest a caller waits in the queue before `else`.",
        "announce" | "position" => {
            "`announce position`: tells the caller their place in the queue."
        }
        "callback" => {
            "`callback OFFICE note \"...\"`: records a request for the office to call the caller back. The reference is in `callback.ref`. In an `office`, `callback 8h` is the office's promise: callbacks not made within it are late."
        }
        "note" => "`note \"...\"`: shown to the staff with the call-back request.",
        "citizen" | "first" => {
            "`callback OFFICE citizen first`: the dialer calls the citizen first (\"press 1 to be connected\"), then rings staff; `staff first` (the default) rings staff first."
        }
        "ticket" => {
            "`ticket CATEGORY priority urgent with { field: value }`: opens a ticket in a category, for the category's office. The reference is in `ticket.ref`."
        }
        "with" => "`with { name: value, ... }`: fields added to the ticket.",
        "appointment" => {
            "`appointment OFFICE -> a else -> b`: books the first free appointment with an office that has `appointments`; `else` when no slot is free."
        }
        "offer" => {
            "`book SERVICE offer 3 -> a else -> b`: the caller hears the next three free times and picks one by key (the key after them: other times)."
        }
        "move" => {
            "`move booking VARIABLE offer 3 -> a else -> b`: moves the booking whose reference is in a variable to a time the caller picks; `else` when no such booking exists or nothing is chosen."
        }
        "book" => {
            "`book SERVICE -> a else -> b`: books the first free slot of a service (`offer 3`: the caller picks among three); `else` when none is free."
        }
        "cancel" | "booking" => {
            "`cancel booking VARIABLE -> a else -> b`: cancels the booking whose reference is in a variable; `else` when no such booking exists."
        }
        "record" => {
            "`record PROMPT into NAME max 2m`: speaks a prompt, then records what the caller says into a variable."
        }
        "conference" => {
            "`conference \"room\" pin \"4821\"`: joins the caller to a conference room."
        }
        "pin" => "`pin \"...\"`: protects the conference room with a code.",
        "webhook" => {
            "`webhook \"https://...\" timeout 3s send { ... } into NAME`: calls another city system over HTTPS. `else` is required."
        }
        "send" => "`send { name: value, ... }`: the fields the webhook sends.",
        "hangup" => {
            "`hangup`: ends the call. (`-> hangup` as a target does the same after another action.)"
        }
        "and" | "or" | "not" => "Logic in expressions: `and`, `or`, `not`, and parentheses.",
        "true" | "false" => "A yes/no value.",
        "open" => "`open(CALENDAR)`: the calendar is open now.",
        "holiday" => "`holiday(CALENDAR)`: today is a closing day of the calendar.",
        "available" => {
            "`available(OFFICE)`: the office is open by its hours and someone is present."
        }
        "starts_with" => "`starts_with(text, prefix)`: the text starts with the prefix.",
        "len" => "`len(text)`: the length of a text.",
        "invalid" => "`invalid`: a key with no branch was pressed (or the input did not match).",
        "ok" => "`ok`: the action succeeded.",
        "busy" | "noanswer" | "failed" => {
            "A way a `transfer` (or another action) can fail; `else` covers every failure."
        }
        _ => return None,
    };
    Some(doc)
}

/// What a named thing is, for the hover on its name.
pub fn kind(kind: centralino_compiler::diagnostic::NameKind) -> &'static str {
    use centralino_compiler::diagnostic::NameKind;
    match kind {
        NameKind::State => "State: a step of a flow that does one thing and says where to go next.",
        NameKind::Flow => "Flow: what happens on a call.",
        NameKind::Calendar => "Calendar: when something is open.",
        NameKind::Office => {
            "Office: a team the caller can be put through to, call back, or book with."
        }
        NameKind::Category => "Ticket category: a kind of problem citizens report by phone.",
        NameKind::Service => "Service: something citizens book in time slots.",
        NameKind::Prompt => "Prompt: something the caller hears.",
        NameKind::Function
        | NameKind::Variable
        | NameKind::Language
        | NameKind::HolidaySet
        | NameKind::Priority => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grammar_keyword_has_a_doc() {
        for word in super::super::keywords::KEYWORDS {
            assert!(keyword(word).is_some(), "no hover doc for `{word}`");
        }
    }
}
