//! The context tables: what a word says the value after it is (or is
//! not). Words are matched lowercased (ASCII), whole; a key such as
//! `phoneNumber` or `cardholder` is first split into its words
//! ([`super::context`]). English first; other languages are rows in the
//! same tables (`telefon`, `téléphone`, ...), added as the need shows.
//!
//! A table row is a word and its [`Class`]: a [`Topic`], a filler that
//! says nothing (`number`, `no`, `my`, `is`), or a part of a name key
//! (`first`, `last`, `name`). Which topics support or refute each
//! detector is [`super::context::verdict`]'s table.

/// What a cue word says a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// An email address (`email`, `mail`).
    Email,
    /// A phone number (`phone`, `tel`, `mobile`, `fax`, `call`, `whatsapp`).
    Phone,
    /// A payment card (`card`, `cc`, `visa`, `charge`).
    Card,
    /// A bank account (`iban`, `bank account`).
    Iban,
    /// An IP address (`ip`, `ipv6`, `x-forwarded-for`).
    Ip,
    /// A US social security number (`ssn`, `social security`).
    Ssn,
    /// A person's name (`first_name`, `surname`, `cardholder`).
    Name,
    /// Who a bare `name` belongs to, when it is a person: `customer`,
    /// `billing`, `traits`, `user` (`customer[name]`, `traits.name`).
    Person,
    /// A login or screen name (`username`, `nickname`): not a person's name.
    Handle,
    /// The identifier of a thing: order, invoice, part, model, serial,
    /// SKU, barcode, ISBN, tracking, ticket, reference, transaction.
    Id,
    /// A software version: `version`, `build`, `release`, `firmware`, a
    /// product token (`Chrome/120.0.0.0`), a protocol (`HTTP/1.1" 200`).
    Version,
    /// A time or date (`time`, `date`, `timestamp`, `epoch`).
    Time,
    /// An amount or a count (`price`, `total`, `qty`).
    Money,
    /// A place (`geo`, `lat`, `lng`, `coordinates`).
    Location,
    /// A section of a text or a standard (`section`, `clause`, `§`, `OID`).
    Section,
    /// A network setting, not a person's address (`netmask`, `gateway`).
    Network,
    /// A thing with a name (`product`, `page`, `app`, `company`): its
    /// name is not a person's.
    Thing,
}

impl Topic {
    /// Every topic.
    pub const ALL: [Topic; 17] = [
        Topic::Email,
        Topic::Phone,
        Topic::Card,
        Topic::Iban,
        Topic::Ip,
        Topic::Ssn,
        Topic::Name,
        Topic::Person,
        Topic::Handle,
        Topic::Id,
        Topic::Version,
        Topic::Time,
        Topic::Money,
        Topic::Location,
        Topic::Section,
        Topic::Network,
        Topic::Thing,
    ];

    /// The name `explain --trace` shows.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Email => "email",
            Topic::Phone => "phone",
            Topic::Card => "card",
            Topic::Iban => "iban",
            Topic::Ip => "ip",
            Topic::Ssn => "ssn",
            Topic::Name => "name",
            Topic::Person => "person",
            Topic::Handle => "handle",
            Topic::Id => "id",
            Topic::Version => "version",
            Topic::Time => "time",
            Topic::Money => "money",
            Topic::Location => "location",
            Topic::Section => "section",
            Topic::Network => "network",
            Topic::Thing => "thing",
        }
    }
}

/// What one word is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Class {
    /// Says something.
    Topic(Topic),
    /// Says nothing, and is looked past (`number`, `no.`, `my`, `is`, `#`).
    Filler,
    /// `name` and its translations: a name key's head word.
    NameHead,
    /// What makes `X name` a person's name: `first`, `last`, `full`, ...
    NamePart,
    /// `on`, `of`: `name_on_card` is a name (of a card).
    Prep,
    /// `number` and its translations: says what the word before it
    /// says (`order number`, `phone number`); alone or after words the
    /// tables do not know (`your number`, `invalid number`), a phone
    /// number.
    Number,
}

/// The class of one word (ASCII-lowercased), if the tables know it.
pub(super) fn class(w: &[u8]) -> Option<Class> {
    use Class::{Filler, NameHead, NamePart, Prep};
    use Topic::*;
    let t = |topic| Some(Class::Topic(topic));
    match w {
        // Fillers: numbering words, articles, pronouns, copulas.
        b"no" | b"nr" | b"num" | b"nbr" | b"nos" | b"nro" | b"n" | b"#" | b"\xe2\x84\x96"
        | b"n\xc2\xb0" | b"n\xc2\xba" | b"is" | b"are" | b"was" | b"be" | b"at" | b"to"
        | b"in" | b"for" | b"from" | b"my" | b"your" | b"our" | b"his" | b"her" | b"their"
        | b"the" | b"a" | b"an" | b"i" | b"m" | b"im" | b"s" | b"me" | b"us" | b"it" | b"this"
        | b"that" | b"via" | b"by" | b"new" | b"old" | b"raw" | b"value" | b"val" | b"text"
        | b"str" | b"string" | b"input" | b"field" | b"data" | b"info" | b"details"
        | b"primary" | b"secondary" | b"main" | b"alt" | b"other" | b"home" | b"work"
        | b"personal" | b"private" | b"business" | b"current" | b"please" | b"pls" | b"here"
        | b"below" | b"above" | b"own" | b"e" | b"x" | b"back" | b"again" | b"later" | b"now"
        // German, French, Spanish, Italian, Portuguese, Dutch, Polish.
        | b"ist" | b"mein" | b"meine" | b"am" | b"unter" | b"die" | b"der" | b"das" | b"ihre"
        | b"ihr" | b"ich" | b"sie" | b"mich" | b"uns" | b"au" | b"\xc3\xa0" | b"le" | b"la"
        | b"les" | b"mon" | b"ma" | b"mes" | b"est" | b"de" | b"du" | b"des" | b"votre"
        | b"moi" | b"nous" | b"al" | b"el" | b"mi" | b"es" | b"del" | b"su" | b"tu" | b"en"
        | b"il" | b"mio" | b"mia" | b"di" | b"o" | b"meu" | b"minha" | b"do" | b"da" | b"na"
        | b"pelo" | b"mijn" | b"op" | b"het" | b"terug" | b"m\xc3\xb3j" | b"moj" | b"pod"
        | b"auf" | b"zu" | b"zum" | b"zur" | b"mit" | b"von" | b"vom"
        | b"por" | b"con" | b"per" | b"naar" | b"van" | b"met"
        // Vietnamese: là (is), của (of), tôi (I).
        | b"l\xc3\xa0" | b"c\xe1\xbb\xa7a" | b"t\xc3\xb4i" => {
            Some(Filler)
        }
        b"on" | b"of" => Some(Prep),
        b"number" | b"numbers" | b"nummer" | b"numero" | b"num\xc3\xa9ro" | b"n\xc3\xbamero"
        | b"numer" | b"numerem" | b"numeru" | b"s\xe1\xbb\x91" => Some(Class::Number),

        // Phone numbers, and asking to be called.
        b"phone"
        | b"phones"
        | b"telephone"
        | b"tel"
        | b"t\xc3\xa9l"
        | b"tele"
        | b"telefon"
        | b"telefono"
        | b"tel\xc3\xa9fono"
        | b"telefone"
        | b"t\xc3\xa9l\xc3\xa9phone"
        | b"telefoon"
        | b"mobile"
        | b"mob"
        | b"mobil"
        | b"m\xc3\xb3vil"
        | b"movil"
        | b"cell"
        | b"cellphone"
        | b"cellular"
        | b"celular"
        | b"cellulare"
        | b"handy"
        | b"fax"
        | b"msisdn"
        | b"whatsapp"
        | b"wa"
        | b"sms"
        | b"call"
        | b"calls"
        | b"called"
        | b"calling"
        | b"callto"
        | b"dial"
        | b"ring"
        | b"hotline"
        | b"helpline"
        | b"rufnummer"
        | b"anrufen"
        | b"ruf"
        | b"appelez"
        | b"rappelez"
        | b"appeler"
        | b"portable"
        | b"llamame"
        | b"ll\xc3\xa1mame"
        | b"llamar"
        | b"chiamami"
        | b"richiamarmi"
        | b"chiamare"
        | b"ligue"
        | b"liga"
        | b"ligar"
        | b"bel"
        | b"bellen"
        | b"zadzwo\xc5\x84"
        | b"zadzwon"
        | b"tlf"
        | b"tfn"
        | b"ph"
        | b"landline"
        | b"voip"
        | b"contactno"
        | b"tlfno"
        | b"caller"
        | b"callback"
        | b"reach"
        | b"kontakt"
        | b"handynummer"
        | b"telefonnummer"
        | b"mobilnummer" | b"rufen" | b"lookup" | b"contact" | b"contacts"
        // Vietnamese: (điện) thoại.
        | b"tho\xe1\xba\xa1i" => t(Phone),
        // Social security numbers.
        b"ssn" | b"ssns" | b"socialsecurity" => t(Ssn),
        // Payment cards.
        b"card" | b"cards" | b"cc" | b"ccn" | b"pan" | b"creditcard" | b"credit" | b"debit"
        | b"visa" | b"mastercard" | b"amex" | b"maestro" | b"charge" | b"charged" | b"debited"
        | b"karte" | b"kreditkarte" | b"carte" | b"tarjeta" | b"cart\xc3\xa3o" | b"carta" => {
            t(Card)
        }
        // Bank accounts.
        b"iban" | b"ibans" | b"kontonummer" | b"rib" | b"sepa" => t(Iban),
        // IP addresses.
        b"ip" | b"ips" | b"ipv4" | b"ipv6" | b"forwarded" | b"whois" => t(Ip),
        // Emails.
        b"email" | b"emails" | b"mail" | b"courriel" | b"correo" | b"mailto" => t(Email),
        // Names (a whole name key in one word), and who has one.
        b"surname" | b"forename" | b"fname" | b"lname" | b"holder" | b"holders" | b"cardholder"
        | b"inhaber" | b"titular" | b"titulaire" | b"vorname" | b"nachname" | b"familienname"
        | b"prenom" | b"pr\xc3\xa9nom" | b"apellido" | b"apellidos" | b"cognome" | b"sobrenome"
        | b"nazwisko" | b"imie" | b"imi\xc4\x99" | b"achternaam" | b"voornaam" | b"firstname"
        | b"lastname" | b"fullname" | b"givenname" | b"familyname" | b"middlename"
        | b"maidenname"
        // Swedish, Danish, Norwegian, Finnish, Czech, Croatian and Serbian,
        // Hungarian (with and without their accents), Russian, Japanese,
        // Chinese, Korean.
        | b"fornamn" | b"f\xc3\xb6rnamn" | b"efternamn" | b"fornavn" | b"efternavn"
        | b"etternavn" | b"mellomnavn" | b"mellannamn" | b"etunimi" | b"sukunimi" | b"jmeno"
        | b"jm\xc3\xa9no" | b"prijmeni" | b"p\xc5\x99\xc3\xadjmen\xc3\xad" | b"prezime"
        | b"vezeteknev" | b"vezet\xc3\xa9kn\xc3\xa9v" | b"keresztnev" | b"keresztn\xc3\xa9v"
        | b"\xd0\xb8\xd0\xbc\xd1\x8f" | b"\xd1\x84\xd0\xb0\xd0\xbc\xd0\xb8\xd0\xbb\xd0\xb8\xd1\x8f"
        | b"\xe5\x90\x8d\xe5\x89\x8d" | b"\xe3\x81\x8a\xe5\x90\x8d\xe5\x89\x8d"
        | b"\xe6\xb0\x8f\xe5\x90\x8d" | b"\xe5\xa7\x93\xe5\x90\x8d" | b"\xe5\x90\x8d\xe5\xad\x97"
        | b"\xe5\xa7\x93" | b"\xec\x9d\xb4\xeb\xa6\x84" | b"\xec\x84\xb1\xeb\xaa\x85" => t(Name),
        b"name" | b"nom" | b"nombre" | b"nome" | b"naam" | b"nev" | b"n\xc3\xa9v" => Some(NameHead),
        b"first" | b"last" | b"full" | b"given" | b"family" | b"middle" | b"sur" | b"fore"
        | b"maiden" | b"display" | b"screen" | b"nick" | b"legal" | b"real" | b"birth"
        | b"christian"
        // `nombre_completo`, `nom_complet`, `nome_completo`.
        | b"complete" | b"completo" | b"completa" | b"complet" | b"completes"
        // `nom_de_famille`, `nombre_de_familia`, `nome_di_famiglia`.
        | b"famille" | b"familia" | b"famiglia" | b"fam\xc3\xadlia" => Some(NamePart),
        b"customer" | b"customers" | b"client" | b"user" | b"users" | b"traits" | b"billing"
        | b"shipping" | b"recipient" | b"sender" | b"buyer"
        | b"payer" | b"applicant" | b"patient" | b"member" | b"employee" | b"person"
        | b"people" | b"profile" | b"account" | b"owner" | b"guest" | b"passenger"
        | b"traveler" | b"traveller" | b"student" | b"attendee" | b"delivery" | b"address"
        | b"beneficiary" | b"signer" | b"spouse" | b"emergency" | b"identity" | b"kunde"
        | b"cliente" | b"utilisateur" | b"usuario" | b"subscriber" | b"consignee" | b"ship"
        | b"bill" | b"checkout" | b"shopper" | b"visitor" | b"lead" | b"sold" | b"author"
        | b"authors" | b"seller" | b"reviewer" | b"requester" | b"requestor" | b"assignee"
        | b"reporter" | b"organizer" | b"organiser" | b"participant" | b"respondent"
        | b"donor" | b"contributor" | b"borrower" | b"recruiter" | b"candidate"
        | b"speaker" | b"winner" | b"cardmember" | b"policyholder" | b"insured"
        // People named by a relation to someone (not `parent`, `child`:
        // a category's or a page's too).
        | b"receiver" | b"addressee" | b"payee" | b"guardian" | b"mother" | b"father"
        | b"husband" | b"wife" | b"tenant" | b"landlord" | b"doctor"
        | b"physician" | b"nurse" | b"teacher" | b"witness" | b"destinataire"
        | b"destinatario" | b"empfaenger" | b"empf\xc3\xa4nger" | b"absender" | b"remitente"
        | b"mittente" | b"benutzer" | b"nutzer" | b"utente" | b"mitglied" | b"miembro"
        | b"membre" | b"inquilino" | b"locataire" | b"mieter" => t(Person),
        b"username" | b"nickname" => t(Handle),

        // Identifiers of things.
        b"id" | b"ids" | b"identifier" | b"uuid" | b"guid" | b"order" | b"orders" | b"invoice"
        | b"invoices" | b"receipt" | b"sku" | b"part" | b"parts" | b"model" | b"serial" | b"sn"
        | b"pn" | b"mpn" | b"upc" | b"ean" | b"gtin" | b"isbn" | b"issn" | b"asin" | b"barcode"
        | b"tracking" | b"track" | b"awb" | b"waybill" | b"shipment" | b"parcel"
        | b"consignment" | b"ticket" | b"tickets" | b"case" | b"incident" | b"ref"
        | b"reference" | b"txn" | b"transaction" | b"auth" | b"authorization" | b"confirmation"
        | b"booking" | b"reservation" | b"voucher" | b"coupon" | b"promo" | b"code" | b"otp"
        | b"session" | b"request" | b"trace" | b"batch" | b"lot" | b"article" | b"artikel"
        | b"art" | b"item" | b"items" | b"product" | b"products" | b"variant" | b"cart"
        | b"job" | b"po" | b"dp" | b"zip" | b"postal" | b"postcode" | b"plz" | b"cep"
        | b"bestellung" | b"commande" | b"pedido" | b"ordine" | b"rma" | b"claim" | b"policy"
        | b"contract" | b"catalog" | b"catalogue" | b"sendungsnummer" | b"seriennummer"
        | b"bestellnummer" | b"auftragsnummer" | b"rechnungsnummer" | b"artikelnummer"
        | b"kundennummer" | b"r\xc3\xa9f" | b"r\xc3\xa9f\xc3\xa9rence" | b"s\xc3\xa9rie"
        | b"serie" | b"referencia" | b"riferimento" | b"factura" | b"facture" | b"modelo"
        | b"mod\xc3\xa8le" | b"modell" | b"modello" | b"sipari\xc5\x9f" | b"suivi"
        | b"seguimiento" | b"rastreio" | b"tid" | b"cid"
        | b"gclid" | b"fbclid" | b"msclkid" | b"hash" | b"checksum" | b"sha" | b"md5"
        | b"commit" | b"etag" | b"token" | b"nonce" | b"key" | b"signature" | b"sig" => t(Id),
        // Versions.
        b"version" | b"versions" | b"ver" | b"vers" | b"v" | b"build" | b"builds" | b"release"
        | b"releases" | b"firmware" | b"fw" | b"rev" | b"revision" | b"sdk" | b"patch"
        | b"update" | b"kernel" | b"driver" | b"bios" | b"http" | b"https" | b"agent" | b"ua"
        | b"os" | b"android" | b"ios" | b"chrome" | b"firefox" | b"safari" | b"edge"
        | b"windows" | b"mozilla" | b"webkit" | b"applewebkit" | b"gecko"
        // German, Spanish, Portuguese, Italian, French, Dutch, Polish, Czech,
        // Finnish (with and without their accents).
        | b"aktualisierung" | b"versi\xc3\xb3n" | b"versao"
        | b"vers\xc3\xa3o" | b"versione" | b"versie" | b"wersja" | b"verze" | b"versio"
        | b"actualizado" | b"actualizada" | b"actualizaci\xc3\xb3n" | b"actualizacion"
        | b"atualizado" | b"atualiza\xc3\xa7\xc3\xa3o" | b"atualizacao" | b"aggiornamento"
        | b"aggiornato" | b"versionen" => t(Version),
        // Times.
        b"time" | b"times" | b"date" | b"dates" | b"ts" | b"timestamp" | b"epoch" | b"created"
        | b"updated" | b"modified" | b"since" | b"until" | b"expires" | b"expiry" | b"exp"
        | b"dt" | b"day" | b"hour" | b"duration" | b"ms" | b"seconds" | b"elapsed" | b"latency"
        | b"ttl" | b"age" | b"year" | b"month" | b"sent" | b"received" | b"datum" | b"fecha" => {
            t(Time)
        }
        // Amounts and counts.
        b"price" | b"prices" | b"amount" | b"total" | b"subtotal" | b"revenue" | b"tax"
        | b"vat" | b"cost" | b"fee" | b"paid" | b"sum" | b"balance" | b"qty" | b"quantity"
        | b"count" | b"units" | b"discount" | b"salary" | b"budget" | b"eur" | b"usd" | b"gbp"
        | b"preis" | b"prix" | b"precio" | b"prezzo" | b"betrag" | b"size" | b"bytes"
        | b"weight" | b"width" | b"height" => t(Money),
        // Places.
        b"geo" | b"lat" | b"lng" | b"lon" | b"latitude" | b"longitude" | b"latlng" | b"ll"
        | b"coords" | b"coordinates" | b"location" | b"loc" | b"maps" | b"map" | b"position"
        | b"gps" | b"place" => t(Location),
        // Sections and object identifiers.
        b"section" | b"sec" | b"\xc2\xa7" | b"clause" | b"chapter" | b"chap" | b"para"
        | b"paragraph" | b"oid" | b"rfc" | b"abschnitt" | b"kapitel" | b"extension"
        | b"eku" | b"x509" | b"asn1" | b"mib" | b"snmp" | b"snmpget" | b"snmpwalk"
        | b"object" | b"ldap" => t(Section),
        // Network settings.
        b"netmask" | b"mask" | b"subnet" | b"gateway" | b"gw" | b"dns" | b"nameserver"
        | b"broadcast" | b"route" | b"cidr" | b"network" | b"net" | b"resolver" => t(Network),
        // Things with names.
        b"page" | b"pages" | b"app" | b"application" | b"event" | b"events" | b"campaign"
        | b"brand" | b"category" | b"categories" | b"store" | b"shop" | b"file" | b"filename"
        | b"plan" | b"company" | b"org" | b"organization" | b"organisation" | b"library"
        | b"lib" | b"device" | b"browser" | b"step" | b"list" | b"collection" | b"tag"
        | b"host" | b"hostname" | b"domain" | b"server" | b"bank" | b"city" | b"country"
        | b"street" | b"region" | b"state" | b"team" | b"project" | b"group" | b"site"
        | b"channel" | b"template" | b"font" | b"theme" | b"layout" | b"module" | b"component"
        | b"class" | b"param" | b"metric" | b"cookie" | b"feature" | b"flag" | b"experiment"
        | b"segment" | b"audience" | b"service" | b"queue" | b"task" | b"table" | b"column"
        | b"index" | b"attribute" | b"property" | b"properties" | b"context" | b"integration"
        | b"source" | b"destination" | b"workspace" | b"environment" | b"folder" | b"bucket"
        | b"topic" | b"course" | b"game" | b"level" | b"video" | b"album" | b"book" | b"title"
        | b"label" | b"option" | b"color" | b"colour" | b"method" | b"type" | b"action"
        | b"utm" | b"form" | b"button" | b"link" | b"widget" | b"menu" | b"element" | b"vendor"
        | b"supplier" | b"merchant" | b"partner" | b"provider" | b"carrier" | b"currency"
        | b"locale" | b"language" | b"lang" | b"timezone" => t(Thing),
        _ => None,
    }
}

/// A possessive filler: a name key qualified by one alone is a person's
/// (`your-name`, `my_name`).
pub(super) fn possessive(w: &[u8]) -> bool {
    matches!(
        w,
        b"my"
            | b"your"
            | b"our"
            | b"his"
            | b"her"
            | b"their"
            | b"mein"
            | b"meine"
            | b"ihr"
            | b"ihre"
            | b"mon"
            | b"ma"
            | b"votre"
            | b"mi"
            | b"su"
            | b"tu"
            | b"mio"
            | b"mia"
            | b"meu"
            | b"minha"
            | b"mijn"
            | b"m\xc3\xb3j"
            | b"moj"
    )
}

/// Two words (in text order) that say together what neither says alone.
pub(super) fn pair(first: &[u8], second: &[u8]) -> Option<Topic> {
    Some(match (first, second) {
        (b"social", b"security") | (b"social", b"sec") | (b"soc", b"sec") => Topic::Ssn,
        (b"bank", b"account") | (b"account", b"iban") | (b"bank", b"details") => Topic::Iban,
        (b"wa", b"me") => Topic::Phone,
        (b"s", b"n") | (b"p", b"n") | (b"m", b"n") | (b"item", b"no") | (b"part", b"no") => {
            Topic::Id
        }
        (b"user", b"agent") => Topic::Version,
        (b"e", b"mail") => Topic::Email,
        (b"ip", b"address") | (b"remote", b"addr") | (b"remote", b"address") => Topic::Ip,
        (b"release", b"notes") => Topic::Version,
        // Segment's and GA4's properties of a user (`user_properties.name`).
        (b"user", b"properties" | b"property" | b"props" | b"attributes" | b"traits") => {
            Topic::Person
        }
        (b"contact", b"number") | (b"contact", b"no") | (b"call", b"me") => Topic::Phone,
        (b"reverse", b"lookup") | (b"phone", b"lookup") => Topic::Phone,
        (b"ss", b"number") | (b"ss", b"no") | (b"ss", b"num") => Topic::Ssn,
        (b"calling", b"line") | (b"calling", b"number") | (b"calling", b"party") => Topic::Phone,
        _ => return None,
    })
}

/// A cue at the end of a run of text written without spaces (Chinese,
/// Japanese, Korean, Thai): `我的电话是…`, `電話番号は…`, `전화번호는…`. The
/// particles that may follow the cue word are dropped first.
pub(super) fn glued(w: &[u8]) -> Option<Topic> {
    let s = std::str::from_utf8(w).ok()?;
    if s.is_ascii() {
        return None;
    }
    let s = s.trim_end_matches([
        'は', 'が', 'を', 'で', 'に', 'の', '是', '为', '為', '：', '는', '은', '가', '이', '로',
    ]);
    const PHONE: [&str; 12] = [
        "電話番号",
        "电话号码",
        "電話號碼",
        "電話",
        "电话",
        "携帯",
        "手机",
        "手機",
        "番号",
        "전화번호",
        "전화",
        "โทร",
    ];
    PHONE.iter().any(|p| s.ends_with(p)).then_some(Topic::Phone)
}
