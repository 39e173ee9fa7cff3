# Diagnostica del compilatore di Centralino, in italiano.
#
# Ogni problema è un messaggio (che cosa non va) con `.label` (che cos'è il testo segnalato) e
# `.help` (che cosa fare). Ogni messaggio ha il suo gemello inglese in ../en/diagnostics.ftl con
# le stesse variabili (un test lo verifica; `gender` serve solo all'italiano). Quello che si scrive
# nei file di flusso resta tra `apici inversi` e non si traduce: `flow`, `menu`, `else`...
# `{"{"}` e `{"}"}` scrivono una graffa.

## Parole comuni

severity-error = errore
severity-warning = avviso
help-prefix = suggerimento: { $help }
list-or = { $init } o { $last }
something-else = altro
did-you-mean = forse intendevi { $names }?
summary-none = nessun problema trovato
summary-errors = { $errors ->
    [one] 1 errore
   *[other] { $errors } errori
}
summary-warnings = { $warnings ->
    [one] 1 avviso
   *[other] { $warnings } avvisi
}
summary-both = { $errors }, { $warnings }
found-end = la fine del file

## Tipi di nome (con il genere, per accordare aggettivi e articoli)

kind-state = stato
    .gender = m
kind-flow = flusso
    .gender = m
kind-calendar = calendario
    .gender = m
kind-office = ufficio
    .gender = m
kind-category = categoria di segnalazione
    .gender = f
kind-service = servizio
    .gender = m
kind-prompt = messaggio
    .gender = m
kind-function = funzione
    .gender = f
kind-variable = variabile
    .gender = f
kind-language = lingua
    .gender = f
kind-holiday-set = elenco di festività
    .gender = m
kind-priority = priorità
    .gender = f

## Che cosa si aspettava la grammatica dei flussi (E001)

rule-end = la fine del file
rule-name = un nome
rule-text = un testo tra virgolette doppie
rule-int = un numero intero
rule-duration = una durata come `6s`, `20m` o `5d`
rule-time = una fascia oraria come `08:30-13:30`
rule-date = una data come `2026-12-24` o `01-29`
rule-key = un tasto (0-9, * o #)
rule-days = dei giorni come `mon-fri`
rule-closure = una chiusura come `holidays italy`, `easter+1`, `01-29` o `2026-12-24`
rule-definition = una definizione (`flow`, `office`, `calendar`, `category`, `service`, `prompt` o `import`)
rule-action = un'azione come `say`, `menu`, `collect`, `transfer` o `hangup`
rule-state = uno stato come `menu: ...`
rule-branches = un blocco di rami `{"{"} 1 -> stato ... {"}"}`
rule-branch = un ramo come `1 -> stato`
rule-prompt = un messaggio: un testo tra virgolette, `file "..."` o il nome di un messaggio
rule-expression = un'espressione
rule-comparison = un confronto (`==`, `!=`, `<`, `>`, ...)
rule-sign = `+` o `-`
rule-field = un campo come `via: via_code`
rule-prompt-texts = i testi del messaggio, come `it "..."`

## Che cosa si aspettava la grammatica delle prove (E031)

scenario-rule-scenario = `scenario "nome" {"{"} ... {"}"}`
scenario-rule-statement = un'altra riga, come `press 1 2` o `expect ...`
scenario-rule-keys = dei tasti (0-9, * e #), `wait`, `hangup` o `booking`
scenario-rule-expectation = che cosa aspettarsi: `say "..."`, `ticket`, `callback`, `booking`, `cancelled`, `transfer`, `queue`, `recording`, `conference`, `state`, `hangup` o `language`
scenario-rule-answer = una risposta: `answered`, `busy`, `noanswer`, `failed` (o, per una coda, `timeout`)
scenario-rule-returns = `returns ...` o `fails`
scenario-rule-json = una risposta in JSON come `{"{"} "testo": "..." {"}"}`, o un testo tra virgolette
scenario-rule-field = un campo come `via: "123"`
scenario-rule-state-ref = uno stato come `main.menu`

## Problemi

e001 = questa riga non è scritta nel linguaggio dei flussi: qui ci vuole { $expected }
    .label = trovato { $found }
    .help = controlla come sono scritte le parole e il loro ordine; in docs/language.md c'è un esempio di ogni costrutto

e036-curly-quote = questo testo è tra virgolette curve, come le scrive un programma di videoscrittura
    .label = virgoletta curva
    .help = usa le virgolette diritte ": scrivi `"Benvenuto"`, non “Benvenuto”; modifica i file dei flussi con un editor di testo semplice
e036-single-quote = i testi vanno tra virgolette doppie, non tra apici singoli
    .label = apice singolo
    .help = usa le virgolette doppie diritte ": scrivi `"Benvenuto"`, non `'Benvenuto'`
e036-accented-name = il nome `{ $name }` ha una lettera accentata
    .label = lettera accentata
    .help = i nomi si scrivono senza accenti (lettere a-z, cifre e `_`): scrivi `{ $plain }`; i testi tra virgolette invece possono avere gli accenti
e036-missing-colon = dopo il nome dello stato `{ $state }` ci vogliono i due punti `:`
    .label = qui mancano i `:`
    .help = scrivi lo stato così: `{ $state }: ...`, per esempio `{ $state }: say "..." -> prossimo`
e036-duration-without-unit = la durata `{ $number }` non ha l'unità di misura
    .label = secondi, minuti, ore o giorni?
    .help = scrivi l'unità subito dopo il numero: `{ $number }s` (secondi), `{ $number }m` (minuti), `{ $number }h` (ore) o `{ $number }d` (giorni)
e036-italian-day = i giorni si scrivono in inglese: `{ $day }` è `{ $english }`
    .label = giorno in italiano
    .help = scrivi `{ $english }`; i giorni sono `mon`, `tue`, `wed`, `thu`, `fri`, `sat` e `sun` (da lunedì a domenica), per esempio `mon-fri 08:30-13:30`

e037-unclosed-brace = la `{"{"}` aperta alla riga { $line }{ $owner } non viene mai chiusa
    .label = aperta qui
    .help = aggiungi una `{"}"}` dove finisce il blocco, con lo stesso rientro della riga che lo apre
e037-closer = questa `{"}"}` chiude il blocco più esterno, non questo
e037-unclosed-text = questo testo, aperto alla riga { $line }, non viene mai chiuso
    .label = il testo comincia qui
    .help = chiudi il testo con `"` sulla stessa riga; una `"` dentro un testo si scrive `\"`
e037-text-end = il testo continua fino a qui
e037-extra-brace = una `{"}"}` di troppo: non chiude niente
    .label = non c'è più niente da chiudere
    .help = togli la `{"}"}` di troppo: questa, oppure quella più in alto che chiude il blocco troppo presto
e037-already-closed = la `{"{"}`{ $owner } è già chiusa qui
owner-definition = di { $keyword } `{ $name }`
owner-menu = del menu di `{ $state }`
owner-branches = dei rami di `{ $state }`
owner-fields-of = dei campi di `{ $state }`
owner-fields = dei campi

e002 = { $what } `{ $name }` sconosciut{ $gender ->
    [f] a
   *[m] o
}
    .label = { $gender ->
        [f] questa
       *[m] questo
    } { $what } non esiste
e002-help = correggi il nome, oppure definisci { $gender ->
    [f] questa
   *[m] questo
} { $what }
e002-help-language = scrivi la lingua con due lettere minuscole, per esempio `it` o `en`
e002-help-priority = la priorità è `low` (bassa), `normal` (normale), `high` (alta) o `urgent` (urgente)
e002-help-holiday-set = l'elenco di festività già pronto è `italy`
e002-help-function = le funzioni sono `open`, `closed`, `holiday`, `available`, `starts_with` e `len`

e003 = { $what } `{ $name }` definit{ $gender ->
    [f] a
   *[m] o
} due volte
    .label = definit{ $gender ->
        [f] a
       *[m] o
    } di nuovo qui
    .help = rinomina uno dei due, oppure togli la copia
e003-first = prima definizione

e004 = il tasto `{ $key }` compare due volte in questo menu
    .label = usato di nuovo qui
    .help = ogni tasto porta in un solo posto; scegli un altro tasto
e004-first = usato la prima volta qui

e040 = `{ $action }` ha l'opzione `{ $option }` due volte
    .label = { $option ->
        [first] detto di nuovo qui
       *[other] scritta di nuovo qui
    }
    .help = { $option ->
        [first] scrivi `citizen first` (prima il cittadino) oppure `staff first` (prima il personale, come se non scrivi niente), una volta sola
       *[other] tieni un solo `{ $option }` e togli l'altro
    }
e040-first = { $option ->
    [first] chi chiamare per primo è già detto qui
   *[other] scritta la prima volta qui
}

e005-same-flow = il flusso `{ $flow }` elenca due volte il numero "{ $number }"
    .label = elencato di nuovo qui
    .help = i numeri si confrontano per le loro cifre, quindi `+39 075 075075` e `075075075` sono lo stesso numero; togli la ripetizione
e005-same-flow-first = elencato la prima volta qui
e005 = al numero "{ $number }" rispondono due flussi, `{ $previous }` e `{ $flow }`
    .label = risponde anche il flusso `{ $flow }`
    .help = a un numero risponde un solo flusso; toglilo da uno dei due (i numeri si confrontano per le loro cifre)
e005-first = risponde il flusso `{ $previous }`

e006 = lo stato `{ $state }` non porta da nessuna parte
    .label = dopo questo `{ $action }` la chiamata non sa dove andare
    .help = aggiungi { $needs }, oppure chiudi la chiamata con `-> hangup`
needs-else-condition = `else -> stato` per quando nessuna condizione è vera
needs-next = `-> stato` per dire dove va poi la chiamata
needs-else-failure = `else -> stato` per quando non riesce
needs-branches = i rami per i tasti, per esempio `{"{"} 1 -> stato  timeout, invalid -> stato {"}"}` con stati di questo flusso

e007 = questi stati girano in tondo senza mai aspettare chi chiama: { $states }
    .label = il giro comincia qui
    .help = metti nel giro un `menu`, un `collect` o un `record`, così è chi chiama a decidere quando ripartire
e007-part = fa parte del giro

e008 = troppi tentativi: a chi chiama si può richiedere al massimo { $max } volte
    .label = troppi tentativi
    .help = usa `retries N` con N al massimo { $max }, poi manda chi chiama in un posto utile con un ramo `timeout`/`invalid`

e009 = questo menu non ha { $missing ->
    [both] un ramo `timeout` o `invalid`
    [timeout] un ramo `timeout`
   *[invalid] un ramo `invalid`
}
    .label = chi chiama e non preme niente, o preme un tasto sbagliato, resta bloccato qui
    .help = aggiungi ai rami del menu, per esempio, `timeout, invalid -> { $example }`

e010 = il file audio "{ $path }" non esiste
    .label = file non trovato
    .help = i percorsi partono dalla cartella del file del flusso; controlla il nome, oppure usa un messaggio di testo

e011 = il file audio "{ $path }" non si può riprodurre: { $reason }
    .label = questo file non si legge
    .help = esportalo di nuovo come WAV (PCM), MP3, FLAC o Ogg Vorbis

e012 = il testo di questo messaggio ha un errore nelle variabili: { $error }
    .label = errore nel testo
    .help = le variabili si scrivono `{"{{"} nome {"}}"}`; controlla che ogni `{"{{"}` abbia la sua `{"}}"}`
template-expected-close = ci vuole `{"}}"}` per chiudere `{"{{"}`
template-expected-block-end = ci vuole `%{"}"}`
template-input-ends = il testo finisce
template-unexpected-close = `{"}}"}` inattesa
template-unexpected = { $token } inattesa

e013 = la variabile `{ $name }` non riceve mai un valore
    .label = variabile senza valore
e013-help = dalle prima un valore (`set`, `collect ... into`), oppure usa una variabile già pronta come `caller`

e035 = il filtro `{ $name }` non esiste
    .label = filtro sconosciuto
e035-help = i filtri cambiano il modo in cui un valore viene letto, per esempio `{"{{"} booking.ref | spell {"}}"}`; l'elenco è in docs/language.md#templates

e014 = questo intervallo finisce prima di cominciare
    .label = la fine non viene dopo l'inizio
    .help = scrivi prima l'ora o la data più presto, per esempio `08:30-13:30` o `2026-08-10..2026-08-14`

e015 = gli orari di apertura si sovrappongono il giorno `{ $day }`
    .label = fascia che si sovrappone
    .help = unisci le due fasce in una sola, oppure correggi gli orari
e015-other = si sovrappone a questa fascia

e016 = fuso orario "{ $name }" sconosciuto
    .label = non è il nome di un fuso orario
e016-help = usa il nome IANA di un fuso orario, come "Europe/Rome"

e017 = questo `{ $action }` non dice dove va la chiamata se nessuno risponde
    .label = che cosa succede se nessuno risponde?
    .help = aggiungi `else -> stato` per quando l'ufficio è chiuso, occupato o non risponde (una richiamata è una buona scelta)

e018 = non si può importare "{ $path }": { $reason }
    .label = file non trovato
    .help = i file da importare si cercano a partire dalla cartella del file che li importa

e019 = questo schema non è un'espressione regolare valida
    .help = uno schema come "[0-9]{"{"}5{"}"}" accetta cinque cifre

e020 = digits { $min }..{ $max } non è un intervallo valido
    .label = intervallo non valido
    .help = scrivi prima il numero più piccolo, tra 1 e 32, per esempio `digits 1..4`

e021 = un `{ $action }` non finisce mai con `{ $branch }`
    .label = non possibile dopo `{ $action }`
    .help = dopo un `{ $action }` la chiamata può proseguire con { $expected }

e022 = { $what }: valore fuori dai limiti
    .label = valore fuori dai limiti
    .help = { $what }: il valore deve essere { $allowed }
what-timeout = tempo di attesa (`timeout`)
what-ring = durata dello squillo (`ring`)
what-max-wait = attesa massima (`max wait`)
what-max-recording = durata massima della registrazione (`max`)
what-webhook-timeout = tempo di attesa del webhook (`timeout`)
what-max-duration = durata massima della chiamata (`max duration`)
what-slot = durata dell'appuntamento (`slot`)
what-sla = tempo di risposta (`sla`)
what-max-visits = visite massime (`max visits`)
what-capacity = capienza (`capacity`)
what-offer = numero di orari proposti (`offer`)
what-end-key = tasto di fine (`end`)
what-easter = distanza da Pasqua
allowed-between = tra { $min } e { $max }
allowed-end-key = `#` o `*`
allowed-easter = al massimo { $max } giorni, da `easter-{ $max }` a `easter+{ $max }`
allowed-slot-missing = scritto: aggiungi per esempio `slot 30m` (tra { $min } e { $max })

e023 = `{ $text }` non è una data o un'ora valida
    .label = questa data o ora non esiste
    .help = le date si scrivono AAAA-MM-GG o MM-GG, le ore HH:MM da 00:00 a 24:00

e024 = il flusso `{ $flow }` risponde a un numero, quindi non può fare `return`
    .label = non c'è niente a cui tornare
    .help = chiudi la chiamata con `hangup`, oppure sposta questi stati in un sotto-flusso che gli altri richiamano con `call`

e025 = il flusso `{ $flow }` non ha stati
    .label = flusso vuoto
    .help = aggiungi almeno uno stato, per esempio `inizio: say "..." -> hangup`

e026 = argomenti sbagliati per `{ $function }`
    .label = argomenti sbagliati
    .help = `{ $function }` vuole { $takes }
takes-calendar = il nome di un calendario, per esempio `{ $function }(uffici)`
takes-office = il nome di un ufficio, per esempio `available(anagrafe)`
takes-two-texts = due testi, per esempio `starts_with(caller, "+39")`
takes-text = un testo, per esempio `len(caller)`

e027 = `{ $name }` è un nome riservato
    .label = riservato
    .help = `-> { $name }` ha già un significato; dai a questo stato un altro nome

e028 = l'ufficio `{ $office }` { $lack ->
    [staff] non ha personale da chiamare
    [appointments] non prende appuntamenti
   *[hours] non ha orari di apertura
}
    .label = usato qui
    .help = { $lack ->
        [staff] aggiungi all'ufficio le righe `staff "sip:..."`
        [appointments] aggiungi all'ufficio `appointments 20m` (la durata di un appuntamento)
       *[hours] aggiungi all'ufficio `hours nome_calendario`
    }
e028-office = l'ufficio `{ $office }` è definito qui

e029 = dei sotto-flussi si richiamano a vicenda in un giro: { $flows }
    .label = questa chiamata chiude il giro
    .help = usa `return` per tornare indietro invece di richiamare chi ti ha chiamato

e030 = il messaggio `{ $prompt }` non ha il testo in `{ $language }`
    .label = usato qui
e030-help = aggiungi al messaggio la versione in `{ $language }`
e030-help-fallback = aggiungi al messaggio la versione in `{ $language }` (ora ha { $available }), oppure indica una lingua di riserva con `fallback` nel flusso

e031 = questa riga non è scritta come una prova: qui ci vuole { $expected }
    .label = trovato { $found }
e031-help = una prova si scrive `scenario "nome" {"{"} call "075075075" ... press 1 ... expect say "..." {"}"}`; docs/language.md#flow-tests elenca ogni riga

e032-label = non c'è nei flussi
e032-number = nessun flusso risponde a "{ $name }"
    .help = chiama un numero scritto in `answers` in un flusso
e032-category = categoria di segnalazione `{ $name }` sconosciuta
    .help = usa il nome di una `category` dei flussi
e032-office = ufficio `{ $name }` sconosciuto
    .help = usa il nome di un `office` dei flussi
e032-bookable = non c'è niente che si chiami `{ $name }` da prenotare
    .help = indica un ufficio con `appointments`, oppure un `service`
e032-flow = flusso `{ $name }` sconosciuto
    .help = scrivi lo stato come `flusso.stato`, per esempio `main.menu`
e032-state = il flusso `{ $flow }` non ha lo stato `{ $name }`
    .help = usa uno stato del flusso `{ $flow }`
e032-priority = priorità `{ $name }` sconosciuta
    .help = la priorità è `low` (bassa), `normal` (normale), `high` (alta) o `urgent` (urgente)
e032-field = le segnalazioni della categoria `{ $category }` non hanno il campo `{ $name }`
    .help = usa un campo che i flussi riempiono in `ticket { $category } with {"{"} ... {"}"}`
e032-language = nessun messaggio è scritto nella lingua `{ $name }`
    .help = scrivi la lingua con due lettere minuscole, per esempio `it` o `en`
e032-contact = nessun ufficio ha il personale "{ $name }"
    .help = copia il contatto da una riga `staff`, oppure indica l'ufficio: `absent anagrafe`
e032-webhook = nessun webhook dei flussi ha "{ $name }" nel suo indirizzo
    .help = usa una parte dell'indirizzo scritto dopo `webhook` nei flussi

e033-time = "{ $text }" non è una data con ora: { $reason }
    .label = non si legge
    .help = scrivi l'ora della chiamata come "2026-11-24 10:00" (ora di Roma), oppure aggiungi il fuso: "2026-11-24 09:00Z", "2026-11-24 10:00+01:00"
e033-json = la risposta del webhook non è JSON valido: { $reason }
    .label = non si legge
    .help = scrivi la risposta in JSON, per esempio `returns {"{"} "allerta": "gialla" {"}"}`, oppure come testo tra virgolette: `returns "Scuole chiuse"`

e034-no-call = questa prova non fa nessuna chiamata
    .label = manca la riga `call`
    .help = aggiungi una riga come `call "075075075" at "2026-11-24 10:00"`
e034-call-twice = una prova fa una sola chiamata
    .label = una seconda chiamata
    .help = scrivi la seconda chiamata come una prova a sé
e034-call-twice-first = la chiamata di questa prova
e034-answer-twice = la risposta { $what ->
    [queue] della coda
   *[transfer] del trasferimento
} è scritta due volte
    .label = scritta di nuovo qui
    .help = tieni una sola risposta; per provarne un'altra, scrivi un'altra prova
e034-answer-twice-first = prima risposta
e034-no-expectation = questa prova non si aspetta niente, quindi non può mai fallire
    .label = manca la riga `expect`
    .help = aggiungi che cosa deve succedere, per esempio `expect say "..."`, `expect ticket buche` o `expect hangup`
e034-duplicate-name = due prove si chiamano "{ $name }"
    .label = usato di nuovo qui
    .help = dai a ogni prova un nome diverso, così un errore indica una prova sola
e034-duplicate-name-first = usato la prima volta qui

e038 = non c'è nessun flusso: nessuna chiamata riceverebbe risposta
    .label = nessun `flow` in nessun file
    .help = scrivi almeno il flusso principale, per esempio `flow main answers "075075075" {"{"} benvenuto: say "Buongiorno" -> hangup {"}"}`

e039 = { $kind ->
    [staff] l'indirizzo del personale
    [number] il numero
    [pin] il PIN
   *[webhook] l'indirizzo del webhook
} "{ $text }" { $fault ->
    [space] contiene uno spazio
    [backwards] ha `{ $written }` all'inizio, dove va `sip:`
    [no-scheme] { $kind ->
        [webhook] non comincia con `https://` o `http://`
       *[other] non comincia con `sip:`
    }
    [no-at] non ha la `@` tra l'interno e il dominio
    [no-user] non ha l'interno prima della `@`
    [no-host] non ha il dominio dopo la `@`
    [not-digits] può contenere solo cifre
    [no-digits] non contiene cifre
   *[plus-inside] ha un `+` che non è all'inizio
}
    .label = { $fault ->
        [space] spazio
        [backwards] `sip:` scritto al contrario
        [no-scheme] { $kind ->
            [webhook] manca `https://`
           *[other] manca `sip:`
        }
        [no-at] manca la `@`
        [no-user] manca l'interno
        [no-host] manca il dominio
        [not-digits] non solo cifre
        [no-digits] nessuna cifra
       *[plus-inside] `+` fuori posto
    }
    .help = { $kind ->
        [staff] l'indirizzo del personale si scrive `sip:INTERNO@DOMINIO`, senza spazi, per esempio `staff "sip:201@comune.perugia.it"`
        [number] un numero ha delle cifre, eventualmente un `+` all'inizio, spazi, `-`, `.`, `/` o parentesi, per esempio `answers "075 075 075"`
        [pin] un PIN è fatto solo di cifre, come le digita chi chiama, per esempio `pin "1234"`
       *[webhook] l'indirizzo di un webhook è un indirizzo web che comincia con `https://` (o `http://`), per esempio `webhook "https://servizi.comune.perugia.it/avvisi"`
    }

w001 = lo stato `{ $state }` non si raggiunge mai
    .label = irraggiungibile
    .help = manda qui chi chiama con `-> nome` da un altro stato, oppure toglilo

w002 = { $what } `{ $name }` mai usat{ $gender ->
    [f] a
   *[m] o
}
    .label = non usat{ $gender ->
        [f] a
       *[m] o
    }
    .help = usal{ $gender ->
        [f] a
       *[m] o
    } in un flusso, oppure toglil{ $gender ->
        [f] a
       *[m] o
    }

w003 = il calendario `{ $calendar }` non ha il fuso orario; si usa Europe/Rome
    .label = manca la riga `timezone`
    .help = aggiungi `timezone "Europe/Rome"` per scriverlo chiaramente

w004 = nessun flusso risponde a un numero di telefono
    .label = nessuno risponde
    .help = aggiungi `answers "numero"` al flusso principale, per esempio `flow main answers "075075075" {"{"} ... {"}"}`

w005 = `ring all` fa squillare insieme tutto il personale di `{ $office }`, ma c'è una sola persona
    .label = non c'è nessun altro da chiamare
    .help = aggiungi le altre persone dell'ufficio come righe `staff`, oppure scrivi `ring 20s` per chiamarle una alla volta
w005-office = l'ufficio `{ $office }` ha una sola riga `staff`

w006 = il file `{ $file }` non definisce niente: è vuoto o contiene solo commenti
    .label = qui non c'è niente
    .help = scrivi i suoi flussi o le sue definizioni, oppure togli il file; se l'ha salvato un programma di videoscrittura, salvalo di nuovo come testo semplice
