/* What a person's reply started from, among the suggested replies (docs/api.md): the
   suggestions on screen, the one put in the reply box, and whether the reply is that one as it
   was or edited. No DOM: the panel and the reply box say what happened. */

/**
 * suggestionUse(): shown(messageId, entryIds) when suggestions appear for a customer message;
 * picked(entryId, answer) when one goes into the reply box; report(text) is the reply's
 * `suggestions` (null when there is nothing to say); sent() once the reply is stored: each
 * suggestion is counted with one reply only.
 */
export function suggestionUse() {
  let messageId = null;
  let onScreen = []; // shown and not yet counted with a reply
  let picked = null; // { entryId, answer }
  return {
    shown(forMessageId, entryIds) {
      messageId = forMessageId;
      onScreen = [...entryIds];
    },
    picked(entryId, answer) {
      picked = { entryId, answer };
    },
    report(text) {
      if (messageId === null || (picked === null && onScreen.length === 0)) return null;
      // The one picked counts as shown, even when it was picked for an earlier message.
      const shown = [...new Set(picked ? [...onScreen, picked.entryId] : onScreen)];
      if (picked === null) return { message_id: messageId, shown, entry_id: null, outcome: "none" };
      const outcome = text.trim() === picked.answer.trim() ? "used" : "edited";
      return { message_id: messageId, shown, entry_id: picked.entryId, outcome };
    },
    sent() {
      onScreen = [];
      picked = null;
    },
  };
}
