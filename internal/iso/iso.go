// Package iso validates the ISO codes partnerhub stores with prices and
// products: ISO 3166-1 alpha-2 country codes and ISO 4217 currency codes.
//
// The lists are embedded rather than taken from golang.org/x/text, whose
// tables are CLDR's: they accept codes that are not officially assigned (UK,
// XK) or long withdrawn (DEM, SU, YU), and lack current ones (SLE, MRU, VES,
// ZWG, XCG). A price in a wrong code reaches Pay1st and the player, so the
// check is exact, upper case only, and the lists are kept here by hand.
package iso

import "strings"

// countryList holds the 249 officially assigned ISO 3166-1 alpha-2 codes
// (unchanged since SS, BQ, CW and SX in 2011). Exceptionally or
// transitionally reserved codes (UK, EU, AC, TA, AN, YU, ...) and
// user-assigned ones (AA, QM-QZ, XA-XZ, ZZ; XK for Kosovo) are not countries
// here.
const countryList = `
	AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
	BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
	BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN
	CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
	EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF
	GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
	HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
	JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
	LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
	ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
	NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG
	PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
	SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS
	ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
	TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
	VN VU WF WS YE YT ZA ZM ZW
`

// currencyList holds ISO 4217 List One as known in November 2026, less XXX
// ("no currency") and XTS ("reserved for testing"): 176 codes. Neither of
// those two prices anything, so a catalog price in them is a mistake. Fund codes (BOV, CHE,
// USN, ...), precious metals (XAU, ...) and units of account (XDR, XSU, ...)
// are in List One and so accepted. Against the 2023 list: HRK (Croatia, euro
// 2023), ZWL (replaced by ZWG, 2024), ANG (replaced by XCG, 2025), SLL
// (redenominated as SLE), CUC and BGN (Bulgaria, euro 2026) are withdrawn;
// ZWG, XCG and XAD are new.
const currencyList = `
	AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND
	BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY
	COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
	GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD
	IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
	LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN
	MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
	PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
	SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
	USD USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA
	XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG
`

var (
	countries  = set(countryList)
	currencies = set(currencyList)
)

func set(list string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, c := range strings.Fields(list) {
		m[c] = struct{}{}
	}
	return m
}

// ValidCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 country code, in upper case ("ZA", not "za"; "GB", not "UK").
func ValidCountry(code string) bool {
	_, ok := countries[code]
	return ok
}

// ValidCurrency reports whether code is an active ISO 4217 currency code in
// upper case, other than XXX and XTS ("ZAR", not "zar").
func ValidCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}
