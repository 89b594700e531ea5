/**
 * A cheap language guess for full-text indexing: Spanish, English, or 'simple' when unsure.
 * Counts function words and Spanish-only characters; good enough to pick a stemmer.
 */
export type TextLanguage = 'spanish' | 'english' | 'simple';

const SPANISH = new Set(
  'de la que el en y los del se las por un para con no una su al lo como más pero sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas algo nosotros mi mis tú te ti tu tus ellas nosotras vosotros vosotras os mío mía míos mías tuyo tuya tuyos tuyas suyo suya suyos suyas nuestro nuestra nuestros nuestras vuestro vuestra vuestros vuestras esos esas estoy estás está estamos estáis están hola gracias quiero puedo tengo buenos buenas días tardes noches cita mañana favor'.split(
    ' ',
  ),
);
const ENGLISH = new Set(
  'the and to of a in is you that it he was for on are as with his they i at be this have from or one had by but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first been call who its now find long down day did get come made may part hello hi thanks thank please want need book tomorrow today would could should'.split(
    ' ',
  ),
);

export function detectLanguage(text: string): TextLanguage {
  const sample = text.length > 2_000 ? text.slice(0, 2_000) : text;
  let es = /[ñ¿¡áéíóú]/i.test(sample) ? 2 : 0;
  let en = 0;
  for (const word of sample.toLowerCase().split(/[^a-záéíóúñü']+/)) {
    if (!word) continue;
    if (SPANISH.has(word)) es++;
    if (ENGLISH.has(word)) en++;
  }
  if (es === 0 && en === 0) return 'simple';
  return es >= en ? 'spanish' : 'english';
}
