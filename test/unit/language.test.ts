import { detectLanguage } from '../../lambdas/shared/language';

describe('detectLanguage', () => {
  it.each([
    ['Hola, quiero reservar una cita para mañana', 'spanish'],
    ['¿Tienen hueco el martes?', 'spanish'],
    ['Hello, I would like to book a haircut for tomorrow', 'english'],
    ['Can you confirm the price please', 'english'],
    ['12:30', 'simple'],
    ['', 'simple'],
  ])('%s → %s', (text, lang) => {
    expect(detectLanguage(text)).toBe(lang);
  });
});
