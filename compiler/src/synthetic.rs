//! Synthetic deployments for benchmarks and scale tests: as many states as asked,
//! shaped like a real city's flows (menus, collects, tickets, transfers, calendars),
//! and clean (they compile with no diagnostic).

use std::fmt::Write;

use crate::source::Sources;

/// States per generated flow.
pub const STATES_PER_FLOW: usize = 10;

/// A deployment with at least `states` states: one definitions file and one file per 100 flows.
pub fn deployment(states: usize) -> Sources {
    let flows = states.div_ceil(STATES_PER_FLOW).max(1);
    let calendars = (flows / 50).clamp(1, 20);
    let offices = (flows / 10).clamp(1, 200);
    let categories = (flows / 10).clamp(1, 200);

    let mut sources = Sources::new();
    let mut defs = String::new();
    for c in 0..calendars {
        let _ = write!(
            defs,
            "calendar cal{c} {{\n  timezone \"Europe/Rome\"\n  mon-fri 08:30-13:30\n  tue, thu 15:00-17:30\n  closed holidays italy\n  closed 01-29 \"San Costanzo\"\n  closed easter+1\n}}\n\n"
        );
    }
    for o in 0..offices {
        let _ = write!(
            defs,
            "office off{o} \"Ufficio {o}\" {{\n  hours cal{}\n  staff \"sip:{}@comune.example.it\" as \"Operatore {o}\"\n  ring 20s\n}}\n\n",
            o % calendars,
            1000 + o
        );
    }
    for k in 0..categories {
        let _ = writeln!(
            defs,
            "category cat{k} \"Categoria {k}\" {{ office off{} priority normal sla 5d }}",
            k % offices
        );
    }
    sources.add("synthetic/definitions.flow", defs);

    let mut file = String::new();
    let mut file_index = 0;
    for f in 0..flows {
        let cal = f % calendars;
        let off = f % offices;
        let cat = f % categories;
        let _ = write!(
            file,
            r##"flow f{f} answers "9{f:07}" {{
  language it
  max duration 20m
  s0: say "Benvenuto nel servizio {f} del Comune." -> s1
  s1: menu "Per una segnalazione premi 1, per un operatore 2, per ripetere 3." timeout 5s retries 2 {{
        1 -> s2
        2 -> s4
        3 -> s6
        timeout, invalid -> s9
      }}
  s2: collect "Digiti il codice della via, poi cancelletto." into codice digits 1..5 end "#" timeout 8s retries 2 -> s3 else -> s9
  s3: ticket cat{cat} with {{ codice: codice, chiamante: caller }} -> s8
  s4: if open(cal{cal}) and available(off{off}) -> s5 else -> s7
  s5: transfer off{off} else -> s7
  s6: set giri = giri + 1 -> s1
  s7: callback off{off} note "richiamare" -> s8
  s8: say "Il suo numero di pratica è {{{{ ticket.ref }}}}." -> s9
  s9: say "Grazie per aver chiamato. Arrivederci." -> hangup
}}

"##
        );
        if (f + 1) % 100 == 0 || f + 1 == flows {
            sources.add(
                format!("synthetic/flows{file_index:04}.flow"),
                std::mem::take(&mut file),
            );
            file_index += 1;
        }
    }
    sources
}

/// Total bytes of source text.
pub fn size(sources: &Sources) -> usize {
    sources.iter().map(|(_, f)| f.text.len()).sum()
}
