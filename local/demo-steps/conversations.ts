/** Sample conversations for the demo: what a salon's WhatsApp assistant really hears and says. */

export interface ScriptedTurn {
  readonly role: 'user' | 'assistant' | 'tool';
  readonly content: string;
  /** An assistant turn that calls a tool (the next turn is the tool's answer). */
  readonly toolCall?: { readonly name: string; readonly args: Record<string, unknown> };
}

export interface Script {
  readonly topic: string;
  readonly turns: readonly ScriptedTurn[];
  /** What a summarising step would keep (seed 000's conversation_summary). */
  readonly summary?: string;
}

export const SCRIPTS: readonly Script[] = [
  {
    topic: 'booking (es)',
    summary: 'Cliente pide cita para corte de pelo mañana; reservada a las 10:00 con Lucía.',
    turns: [
      { role: 'user', content: 'Hola, quería pedir cita para un corte de pelo mañana por la mañana.' },
      {
        role: 'assistant',
        content: 'Déjame mirar la agenda de mañana.',
        toolCall: { name: 'check_availability', args: { date: 'mañana', service: 'corte' } },
      },
      { role: 'tool', content: '{"slots":["10:00","11:30","12:15"],"stylist":"Lucía"}' },
      { role: 'assistant', content: '¡Claro! Mañana tenemos hueco a las 10:00, 11:30 o 12:15 con Lucía. ¿Cuál te viene mejor?' },
      { role: 'user', content: 'A las 10:00 perfecto.' },
      { role: 'assistant', content: 'Hecho: corte de pelo mañana a las 10:00 con Lucía. Te mandaremos un recordatorio una hora antes.' },
    ],
  },
  {
    topic: 'price question (en)',
    turns: [
      { role: 'user', content: 'Hi! How much is a full colour with a blow-dry?' },
      { role: 'assistant', content: 'A full colour is €55 and the blow-dry adds €15, so €70 in total. It takes about two hours.' },
      { role: 'user', content: 'Do you have anything on Saturday afternoon?' },
      { role: 'assistant', content: 'Saturday at 16:00 is free. Shall I book it for you?' },
      { role: 'user', content: 'Yes please, thanks!' },
      { role: 'assistant', content: 'Booked: full colour and blow-dry, Saturday at 16:00. See you then!' },
    ],
  },
  {
    topic: 'reschedule (es)',
    turns: [
      { role: 'user', content: 'Buenas, tengo cita el jueves a las 17:00 y no voy a poder ir. ¿Se puede cambiar?' },
      { role: 'assistant', content: 'Sin problema. ¿Te iría bien el viernes a las 17:00 o el sábado a las 10:30?' },
      { role: 'user', content: 'El sábado mejor.' },
      { role: 'assistant', content: 'Listo, tu cita pasa al sábado a las 10:30. ¡Gracias por avisar!' },
    ],
  },
  {
    topic: 'opening hours (en)',
    turns: [
      { role: 'user', content: 'Are you open on Sundays?' },
      { role: 'assistant', content: "We're closed on Sundays. Monday to Saturday we open from 9:30 to 20:00." },
      { role: 'user', content: 'Great, I will drop by on Monday.' },
      { role: 'assistant', content: 'Perfect, see you on Monday!' },
    ],
  },
  {
    topic: 'price and booking (es)',
    turns: [
      { role: 'user', content: '¿Cuánto cuesta la manicura semipermanente?' },
      { role: 'assistant', content: 'La manicura semipermanente cuesta 25 € y dura unos 45 minutos.' },
      { role: 'user', content: 'Vale, ¿hay hueco el martes por la tarde?' },
      { role: 'assistant', content: 'El martes tengo libre a las 18:00. ¿Te la reservo?' },
      { role: 'user', content: 'Sí, gracias.' },
      { role: 'assistant', content: 'Reservada: manicura semipermanente el martes a las 18:00.' },
    ],
  },
];
